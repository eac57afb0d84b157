"""``reward_kwargs.judge_error_alarm``: a judge that keeps failing is reported once, at error level,
after that many consecutive failures in one reward worker; a success starts the count again."""

from __future__ import annotations

import logging

import pytest

from finr1_verl.reward import score
from finr1_verl.smoke.fake_openai import Reply


def response(i: int) -> str:
    """A free-text answer rules cannot decide; distinct per call, so no judge verdict is reused."""
    return f"<think>\nread the text\n</think>\n<answer>\n\\boxed{{答案是增长{i}}}\n</answer>"


@pytest.fixture(autouse=True)
def fresh_streak():
    score._JUDGE_FAILURE_STREAK.succeeded()
    yield
    score._JUDGE_FAILURE_STREAK.succeeded()


async def _score(fake_openai, alarm: int, i: int) -> dict[str, float]:
    return await score.compute_score(
        "finr1/fincuge",
        response(i),
        ["收入增长"],
        {"answer_type": "text", "id": "q1"},
        judge_urls=fake_openai.base_url,
        judge_model="fake-model",
        max_retries=0,
        judge_error_alarm=alarm,
    )


def _alarms(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.ERROR and "in a row" in r.getMessage()]


async def test_consecutive_judge_failures_raise_one_error_line_with_the_count(fake_openai, caplog):
    caplog.set_level(logging.WARNING, logger="finr1_verl.reward.score")
    fake_openai.responder = lambda body: Reply(status=400, content=None)  # a client error: no retry
    for i in range(2):
        assert (await _score(fake_openai, alarm=3, i=i))["judge_error"] == 1.0
    assert _alarms(caplog) == []
    for i in range(2, 5):  # the third failure in a row alarms, the next ones do not repeat it
        assert (await _score(fake_openai, alarm=3, i=i))["judge_error"] == 1.0
    alarms = _alarms(caplog)
    assert len(alarms) == 1 and "3 times in a row" in alarms[0].getMessage()


async def test_a_judge_success_starts_the_count_again(fake_openai, caplog):
    caplog.set_level(logging.WARNING, logger="finr1_verl.reward.score")
    fail = Reply(status=400, content=None)
    fake_openai.script(fail, fail, Reply(content="\\boxed{1}"), fail, fail)
    results = [await _score(fake_openai, alarm=3, i=i) for i in range(5)]
    assert [r["judge_error"] for r in results] == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert _alarms(caplog) == []
    assert score.ScoreSettings().judge_error_alarm == 64
