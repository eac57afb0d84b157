"""``reward_kwargs.judge_deadline_s``: one sample's judge work, retries and backoff included, ends by the
deadline with the judge-fault fallback; and the judge's HTTP sessions are closed when the process exits.

The bounds are computed from the settings: a hanging judge without the deadline costs at least
``timeout x (max_retries + 1)``; with it, the deadline plus the slack of cancelling one request, which
is taken as the client's first backoff step (``backoff_base_s``, 0.5 s): an order of magnitude above
what cancelling costs on a loopback connection, and far below one more attempt.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from finr1_verl.llm import DEADLINE, LLMClient, LLMError
from finr1_verl.reward import compute_score_sync, score
from finr1_verl.smoke.fake_openai import Reply

RESPONSE = "<think>\nread the note\n</think>\n<answer>\nthe lease was renewed\n</answer>"  # rules: UNDECIDED
SLACK_S = LLMClient("http://127.0.0.1:1/v1", "m").backoff_base_s


def _hang(fake_openai, deadline: float) -> None:
    """Every request hangs past the deadline (and not much longer, so the server stops quickly)."""
    fake_openai.responder = lambda body: Reply(fault="hang", delay=deadline + 1.0)


@pytest.mark.parametrize(
    ("timeout", "max_retries", "deadline"),
    [
        (30.0, 3, 1.0),  # the GRPO config's request timeout: one attempt outlives the deadline
        (0.4, 5, 1.2),  # short attempts: the retries and their backoff run into the deadline
    ],
)
def test_a_hanging_judge_costs_a_sample_at_most_the_deadline(fake_openai, timeout, max_retries, deadline):
    _hang(fake_openai, deadline)
    started = time.monotonic()
    out = compute_score_sync(  # called as the README shows
        "finr1/finqa",
        RESPONSE,
        ["the lease was extended"],
        {"answer_type": "text"},
        judge_urls=fake_openai.base_url,
        judge_model="fake-model",
        timeout=timeout,
        max_retries=max_retries,
        judge_deadline_s=deadline,
    )
    elapsed = time.monotonic() - started
    assert elapsed < deadline + SLACK_S < timeout * (max_retries + 1)
    assert out["judge_error"] == 1.0 and out["judged"] == 0.0
    assert out["acc"] == 0.0 and out["score"] == 1.0  # the format point only: never reward from a fault


async def test_the_client_stops_retrying_at_the_deadline(fake_openai):
    _hang(fake_openai, 1.0)
    client = LLMClient(fake_openai.base_url, "fake-model", timeout_s=0.3, max_retries=20)
    try:
        started = time.monotonic()
        with pytest.raises(LLMError) as caught:
            await client.chat([{"role": "user", "content": "hi"}], deadline_s=1.0)
        assert time.monotonic() - started < 1.0 + SLACK_S
        assert caught.value.kind == DEADLINE
        sent = len(fake_openai.requests)
        await asyncio.sleep(0.6)  # longer than an attempt and a backoff: no retry goes on behind the error
        assert len(fake_openai.requests) == sent < 21
    finally:
        await client.aclose()


def test_the_deadline_is_a_documented_reward_kwarg_with_a_60s_default():
    assert score.ScoreSettings().judge_deadline_s == 60.0
    assert "judge_deadline_s" in score.KWARGS
    with pytest.raises(ValueError, match="judge_deadline_s must be > 0"):
        score.ScoreSettings.from_kwargs({"mode": "never", "judge_deadline_s": 0})


def test_no_unclosed_session_is_reported_when_a_process_that_judged_exits():
    script = textwrap.dedent(
        """
        import sys
        from finr1_verl.reward import compute_score_sync
        from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply

        with FakeOpenAIServer(responder=lambda body: Reply(content="\\\\boxed{1}")) as server:
            out = compute_score_sync(
                "finr1/finqa", sys.argv[1], ["the lease was extended"], {"answer_type": "text"},
                judge_urls=server.base_url, judge_model="fake-model",
            )
        assert out["judged"] == 1.0, out
        print("judged")
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", script, RESPONSE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "judged" in done.stdout
    assert "Unclosed" not in done.stderr, done.stderr
