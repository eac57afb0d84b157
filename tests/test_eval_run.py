"""finr1-eval end to end over real HTTP: a loopback server plays the model under test with scripted
answers, another plays the judge, and every benchmark's scores come out exactly as scripted.

Per benchmark, the 8 selected items get, by position: 0 the right answer; 1 the right answer in
another notation; 2 a wrong answer; 3 a response cut off inside <think> (finish_reason "length",
its last line is content-free: guarded); 4 the right answer without tags ("The answer is …");
5/6/7 answers the rules cannot decide, which the judge calls equal / different / fails on (HTTP
503).  Rules alone: items 0, 1, 4 → 37.5; with the judge: 0, 1, 4, 5 → 50.0.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from finr1_verl.eval.benchmarks import EvalItem, benchmark
from finr1_verl.eval.cli import main
from finr1_verl.eval.generate import EndpointBackend, Sampling
from finr1_verl.eval.items import load_items
from finr1_verl.eval.report import paper_average
from finr1_verl.eval.runner import EvalConfig, run_eval
from finr1_verl.eval.score import EVAL_SCORING, summarize
from finr1_verl.reward.judge import JudgeSettings, as_candidate
from finr1_verl.reward.match import RULES_VERSION
from finr1_verl.reward.score import close_judges, judge_for
from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply
from tests.support.shared_data import REPO_ROOT, shared_path
from tests.test_eval_items import write_instruct

LIMIT = 8
RIGHT, NOTATION, WRONG, CUT, NO_TAGS, JUDGE_YES, JUDGE_NO, JUDGE_FAILS = range(LIMIT)
UNDECIDED = {
    "numeric": ("{g} million", "{g} billion", "{g} thousand"),
    "label": ("somewhat gloomy", "mixed feelings", "hard to tell"),
    "choice": ("the second one", "第二个", "not sure"),
    "boolean": ("maybe", "不确定", "可能"),
    "text": ("In short, {g}", "Roughly: {g}", "Possibly {g}"),
}
BOOLEAN_OTHER = {"yes": "是", "no": "否", "是": "yes", "否": "no"}


@pytest.fixture(autouse=True)
def no_judge_from_the_environment(monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    monkeypatch.delenv("FINR1_JUDGE_MODEL", raising=False)


@pytest.fixture
def judge_server():
    with FakeOpenAIServer(model="fake-judge") as server:
        yield server


@pytest.fixture(scope="module")
def bench_paths(tmp_path_factory) -> dict[str, Path]:
    instruct = tmp_path_factory.mktemp("instruct") / "train.json"
    write_instruct(instruct)  # 200 records -> the paper's 10% stratified = 20 items
    return {
        "finqa": shared_path("finqa", "finqa_test_first100.json"),
        "convfinqa": shared_path("convfinqa"),
        "ant_finance": shared_path("ant_fineva", "Ant"),
        "tfns": shared_path("tfns", "sent_valid.csv"),
        "finance_instruct": instruct,
    }


def tagged(answer: str) -> str:
    return f"<think>\nRead the figures and compute step by step.\n</think>\n<answer>\n\\boxed{{{answer}}}\n</answer>"


def other_notation(item: EvalItem) -> str:
    gold, kind, choices = item.sample.readings[0], item.sample.answer_type, item.sample.choices or {}
    if kind == "numeric":
        return f"{float(gold[:-1]) / 100:g}" if gold.endswith("%") else f"{float(gold):.2f}"
    if kind in ("label", "choice"):
        return choices[gold]  # the label's name for its id, the option's text for its letter
    if kind == "boolean":
        return BOOLEAN_OTHER[gold]
    return gold.upper()


def wrong(item: EvalItem) -> str:
    gold, kind, choices = item.sample.readings[0], item.sample.answer_type, item.sample.choices or {}
    if kind == "numeric":
        return f"{abs(float(gold.rstrip('%'))) * 3 + 7:g}"
    if kind in ("label", "choice"):
        return next(key for key in choices if key != gold)
    if kind == "boolean":
        return "否" if gold in ("是", "yes") else "是"
    return "the weather will be sunny"


class Script:
    """The scripted model and judge for the selected items of every benchmark."""

    def __init__(self, paths: dict[str, Path], seed: int = 0):
        self.replies: dict[str, Reply] = {}
        self.verdicts: dict[tuple[str, str], Reply] = {}
        for name, path in paths.items():
            for position, item in enumerate(load_items(benchmark(name), path, seed, limit=LIMIT).items):
                self.add(item, position)

    def add(self, item: EvalItem, position: int) -> None:
        gold = item.sample.readings[0]
        undecided = [u.format(g=gold) for u in UNDECIDED[item.sample.answer_type]]
        user = item.messages[1]["content"]
        yes, no, error = Reply("\\boxed{1}"), Reply("\\boxed{0}"), Reply(status=503)
        if position == RIGHT:
            self.replies[user] = Reply(tagged(gold))
            self.verdicts[(gold, gold)] = yes
        elif position == NOTATION:
            self.replies[user] = Reply(tagged(other_notation(item)))
            self.verdicts[(gold, other_notation(item))] = yes
        elif position == WRONG:
            self.replies[user] = Reply(tagged(wrong(item)))
        elif position == CUT:
            self.replies[user] = Reply("<think>\nLet me think step by step.", finish_reason="length")
        elif position == NO_TAGS:
            self.replies[user] = Reply(f"The table gives it directly.\nThe answer is {gold}.")
            self.verdicts[(gold, gold)] = yes
        else:
            candidate = undecided[position - JUDGE_YES]
            self.replies[user] = Reply(tagged(candidate))
            self.verdicts[(gold, candidate)] = {JUDGE_YES: yes, JUDGE_NO: no, JUDGE_FAILS: error}[position]

    def model(self, body: dict) -> Reply:
        return self.replies.get(body["messages"][1]["content"], Reply(status=400))

    def judge(self, body: dict) -> Reply:
        user = body["messages"][1]["content"]
        reference = re.search(r"<reference_answer>\n(.*?)\n", user).group(1)
        candidate = re.search(r"<candidate_answer>\n(.*?)\n</candidate_answer>", user).group(1)
        # the judge reads each candidate as the reward's candidate block shows it (folded, one line)
        shown = {(ref, as_candidate(answer, 10_000)): reply for (ref, answer), reply in self.verdicts.items()}
        return shown.get((reference, candidate), Reply("\\boxed{0}"))


def cli_args(
    paths: dict[str, Path], out: Path, model_url: str, judge_url: str | None, *extra: str
) -> list[str]:
    args = [
        "run",
        "--out",
        str(out),
        "--limit",
        str(LIMIT),
        "--model",
        "fake-fin-r1",
        "--model-urls",
        model_url,
    ]
    for name, path in paths.items():
        args += ["--bench", f"{name}={path}"]
    if judge_url:
        args += ["--judge-urls", judge_url, "--judge-model", "fake-judge", "--judge-retries", "0"]
    return [*args, "--no-progress", *extra]


def read_items(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / "items" / f"{name}.jsonl").read_text().splitlines()]


EXPECTED = {
    "items": 8,
    "rule_score": 37.5,
    "judge_score": 50.0,
    "judge_errors": 1,
    "rule_judge_disagree": 0,
    "answer_found": 8,
    "format_ok": 6,
    "guarded": 1,
    "truncated": 1,
    "generation_errors": 0,
}


@pytest.mark.slow
def test_exact_scores_per_benchmark_and_reports(bench_paths, fake_openai, judge_server, tmp_path):
    script = Script(bench_paths)
    fake_openai.responder, judge_server.responder = script.model, script.judge
    out = tmp_path / "run"
    assert main(cli_args(bench_paths, out, fake_openai.base_url, judge_server.base_url)) == 0
    summary = json.loads((out / "summary.json").read_text())
    for name, scores in summary["benchmarks"].items():
        # text answers that are wrong are undecided by rules, so the judge also sees item 2
        judged = 3 if name == "finance_instruct" else 2
        assert {k: scores[k] for k in EXPECTED} == EXPECTED, name
        assert (scores["judged"], scores["judged_share"]) == (judged, judged * 12.5), name
    assert summary["average"] == {"rule": 37.5, "judge": 50.0}

    finqa = read_items(out, "finqa")
    assert [r["position"] for r in finqa] == list(range(LIMIT))
    assert finqa[NOTATION]["rule_verdict"] == "equal" and finqa[NOTATION]["answer"] != finqa[RIGHT]["answer"]
    assert finqa[CUT]["guard"] == "content_free" and finqa[CUT]["finish_reason"] == "length"
    assert finqa[NO_TAGS]["format_ok"] is False and finqa[NO_TAGS]["correct"] is True
    assert (finqa[JUDGE_YES]["rule_verdict"], finqa[JUDGE_YES]["judge_reply"]) == ("undecided", "\\boxed{1}")
    assert finqa[JUDGE_FAILS]["judge_error"] == "server" and finqa[JUDGE_FAILS]["correct"] is False
    assert finqa[RIGHT]["prompt"][1]["content"] in script.replies

    sent = fake_openai.requests
    assert len(sent) == 5 * LIMIT
    assert {
        (b["temperature"], b["top_p"], b["max_tokens"], b["seed"], b["top_k"], b["repetition_penalty"])
        for b in sent
    } == {(0.6, 0.95, 4096, 0, -1, 1.0)}
    assert (
        len(judge_server.requests) == 2 * 5 + 1 + 5
    )  # undecided items, FI's wrong text, one failed try each

    protocol = summary["protocol"]
    assert protocol["model"] == "fake-fin-r1" and protocol["backend"] == "endpoint" and protocol["seed"] == 0
    assert protocol["scoring"]["judge_model"] == "fake-judge"
    assert protocol["scoring"]["judge_prompt_version"] == "finr1-judge-v2"
    assert (
        protocol["scoring"]["rules_version"] == RULES_VERSION
        and "rules `finr1-rules-v2`" in (out / "report.md").read_text()
    )
    assert protocol["prompt_version"] == "finr1-system-v1+finr1-question-v1"
    assert protocol["packages"]["verl"] == "0.9.1"
    items_file = json.loads((out / "items.json").read_text())["benchmarks"]
    assert protocol["items"]["tfns"]["selection_sha256"] == items_file["tfns"]["ids_sha256"]
    assert len(items_file["tfns"]["ids"]) == protocol["items"]["tfns"]["selected"] == 1000
    assert [r["id"] for r in read_items(out, "tfns")] == items_file["tfns"]["ids"][:LIMIT]

    report = (out / "report.md").read_text()
    judged_cell, rule_cell = "**50.0 [21.5–78.5] n=8**", "**37.5 [13.7–69.4] n=8**"  # Wilson 95%
    assert (
        f"| **fake-fin-r1 (judge, mode rule_first)** | {' | '.join([judged_cell] * 5)} | **50.0** |" in report
    )
    assert f"| **fake-fin-r1 (rules only)** | {rule_cell} |" in report
    assert "| Fin-R1 (7B) | 76.0 | 85.0 | 81.0 | 71.0 | 62.9 | 75.2 |" in report
    assert "| **fake-fin-r1 (rules only)** | not run | not run |" in report  # FinanceIQ, FinCUGE
    check_harness_results(out, judged=True)
    with Image.open(out / "report.png") as image:
        assert image.format == "PNG" and image.size == (1100, 500)
        assert len(set(image.convert("RGB").getdata())) > 5  # bars drawn, not a blank canvas
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 1 + 6101 and rejects[0]["benchmark"] == "finqa"


@pytest.mark.slow
def test_rescoring_with_another_judge_mode_reuses_responses(bench_paths, fake_openai, judge_server, tmp_path):
    script = Script(bench_paths)
    fake_openai.responder, judge_server.responder = script.model, script.judge
    out = tmp_path / "run"
    assert main(cli_args(bench_paths, out, fake_openai.base_url, judge_server.base_url)) == 0
    fake_openai.reset()
    argv = cli_args(bench_paths, out, fake_openai.base_url, judge_server.base_url, "--judge-mode", "always")
    assert main(argv) == 0
    assert fake_openai.requests == []  # nothing generated again
    summary = json.loads((out / "summary.json").read_text())
    for scores in summary["benchmarks"].values():
        # every unguarded answer is judged: 7 asked, one of them fails
        assert (scores["judged"], scores["judge_errors"], scores["judge_score"]) == (6, 1, 50.0)
    assert summary["protocol"]["scoring"]["mode"] == "always"


def test_rules_only_without_a_judge(bench_paths, fake_openai, tmp_path):
    paths = {"tfns": bench_paths["tfns"]}
    fake_openai.responder = Script(paths).model
    out = tmp_path / "rules"
    assert main(cli_args(paths, out, fake_openai.base_url, None)) == 0
    scores = json.loads((out / "summary.json").read_text())["benchmarks"]["tfns"]
    assert (scores["rule_score"], scores["judge_score"], scores["judged"]) == (37.5, None, 0)
    report = (out / "report.md").read_text()
    rule_cell = "**37.5 [13.7–69.4] n=8**"
    assert (
        "(judge" not in report
        and f"| **fake-fin-r1 (rules only)** | **not run** | **not run** | **not run** | {rule_cell} "
        "| **not run** | **—** |"
        in report
    )
    results = json.loads((out / "results.json").read_text())
    assert results["results"]["tfns"]["acc,none"] == results["results"]["tfns"]["acc_rule,none"] == 0.375
    assert results["configs"]["tfns"]["metadata"]["acc_is"] == "rule"


def check_harness_results(out: Path, judged: bool) -> None:
    """results.json in lm-evaluation-harness 0.4's layout and samples_<task>.jsonl agree with items/."""
    results = json.loads((out / "results.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert set(results) >= {
        "results",
        "configs",
        "versions",
        "n-samples",
        "n-shot",
        "higher_is_better",
        "config",
    }
    for name, bench in summary["benchmarks"].items():
        task = results["results"][name]
        acc = 0.5 if judged else 0.375
        assert (task["acc,none"], task["acc_rule,none"]) == (acc, 0.375), name
        # lm-eval's acc_stderr: sample std (n - 1) over sqrt(n) of the 0/1 verdicts
        assert task["acc_stderr,none"] == pytest.approx((acc * (1 - acc) * 8 / 7) ** 0.5 / 8**0.5), name
        assert results["n-samples"][name] == {"original": bench["parsed"], "effective": LIMIT}
        assert results["configs"][name]["metadata"]["protocol"]["sampling"]["temperature"] == 0.6
        assert results["configs"][name]["metadata"]["acc_is"] == ("judge" if judged else "rule")
        samples = [json.loads(line) for line in (out / f"samples_{name}.jsonl").read_text().splitlines()]
        items = read_items(out, name)
        assert [s["doc"]["id"] for s in samples] == [r["id"] for r in items]
        for sample, item in zip(samples, items, strict=True):
            assert sample["resps"] == [[item["response"]]] and sample["extracted_answer"] == item["answer"]
            assert (sample["rule_verdict"], sample["judge_reply"]) == (
                item["rule_verdict"],
                item["judge_reply"],
            )
            assert sample["acc"] == float(item["correct"] if judged else item["rule_correct"])
        assert sum(s["acc"] for s in samples) / LIMIT == task["acc,none"]


async def run_async(paths, out: Path, model_url: str, judge_url: str):
    """The run as a library call, the judge built the way the CLI builds it."""
    judge = judge_for(JudgeSettings(urls=(judge_url,), model="fake-judge", max_retries=0))
    backend = EndpointBackend(model_url, "fake-fin-r1", Sampling(), concurrency=2)
    config = EvalConfig(data=paths, out=out, limit=LIMIT, scoring=EVAL_SCORING, progress=False)
    try:
        return await run_eval(config, backend, judge)
    finally:
        await close_judges()


async def test_resume_after_interruption_gives_identical_results(
    bench_paths, fake_openai, judge_server, tmp_path
):
    paths = {name: bench_paths[name] for name in ("finqa", "tfns")}
    script = Script(paths)
    judge_server.responder = script.judge
    fake_openai.responder = script.model
    whole = await run_async(paths, tmp_path / "whole", fake_openai.base_url, judge_server.base_url)

    def slow_model(body: dict) -> Reply:
        reply = script.model(body)
        reply.delay = 0.05
        return reply

    fake_openai.responder = slow_model
    fake_openai.reset()
    out = tmp_path / "resumed"
    task = asyncio.ensure_future(run_async(paths, out, fake_openai.base_url, judge_server.base_url))
    finqa_file = out / "items" / "finqa.jsonl"
    while not (finqa_file.exists() and len(finqa_file.read_text().splitlines()) >= 3):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    finished = len(finqa_file.read_text().splitlines())
    assert finished < LIMIT and not (out / "summary.json").exists()
    with finqa_file.open("a") as handle:
        handle.write('{"benchmark": "finqa", "id": "finqa_te')  # a write torn by the crash
    first_requests = len(fake_openai.requests)
    resumed = await run_async(paths, out, fake_openai.base_url, judge_server.base_url)

    assert len(fake_openai.requests) - first_requests == 2 * LIMIT - finished  # finished items were reused
    for name in paths:
        assert (out / "items" / f"{name}.jsonl").read_bytes() == (
            tmp_path / "whole" / "items" / f"{name}.jsonl"
        ).read_bytes()
    assert (
        resumed["benchmarks"] == whole["benchmarks"]
        and resumed["protocol"]["items_sha256"] == (whole["protocol"]["items_sha256"])
    )


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.integration
@pytest.mark.slow
def test_killed_process_resumes_to_the_same_bytes(bench_paths, fake_openai, judge_server, tmp_path):
    paths = {"finqa": bench_paths["finqa"]}
    script = Script(paths)
    judge_server.responder = script.judge
    fake_openai.responder = script.model
    assert main(cli_args(paths, tmp_path / "whole", fake_openai.base_url, judge_server.base_url)) == 0

    def slow_model(body: dict) -> Reply:
        reply = script.model(body)
        reply.delay = 0.3
        return reply

    fake_openai.reset()
    fake_openai.responder = slow_model
    out = tmp_path / "killed"
    argv = cli_args(paths, out, fake_openai.base_url, judge_server.base_url, "--model-concurrency", "1")
    process = subprocess.Popen([sys.executable, "-m", "finr1_verl.eval.cli", *argv], cwd=REPO_ROOT)
    items = out / "items" / "finqa.jsonl"
    deadline = time.monotonic() + 120
    while line_count(items) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    finished = line_count(items)
    assert 2 <= finished < LIMIT
    sent_before = len(fake_openai.requests)
    assert main(argv) == 0
    assert len(fake_openai.requests) - sent_before == LIMIT - finished
    assert items.read_bytes() == (tmp_path / "whole" / "items" / "finqa.jsonl").read_bytes()


def test_failed_generations_are_retried_by_the_next_run(
    bench_paths, fake_openai, judge_server, tmp_path, capsys
):
    paths = {"finqa": bench_paths["finqa"]}
    script = Script(paths)
    judge_server.responder = script.judge
    broken = next(iter(script.replies))
    fake_openai.responder = lambda body: (
        Reply(status=400) if body["messages"][1]["content"] == broken else script.model(body)
    )
    out = tmp_path / "run"
    assert main(cli_args(paths, out, fake_openai.base_url, judge_server.base_url)) == 3
    assert "1 items could not be generated" in capsys.readouterr().err
    failed = [r for r in read_items(out, "finqa") if r["generation_error"]]
    assert [(r["generation_error"], r["response"], r["correct"]) for r in failed] == [("client", None, False)]
    fake_openai.reset()
    fake_openai.responder = script.model
    assert main(cli_args(paths, out, fake_openai.base_url, judge_server.base_url)) == 0
    assert [b["messages"][1]["content"] for b in fake_openai.requests] == [broken]
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["finqa"]["judge_score"] == 50.0


def test_other_generation_settings_are_refused(bench_paths, fake_openai, tmp_path, capsys):
    paths = {"tfns": bench_paths["tfns"]}
    fake_openai.responder = Script(paths).model
    out = tmp_path / "run"
    assert main(cli_args(paths, out, fake_openai.base_url, None)) == 0
    assert main(cli_args(paths, out, fake_openai.base_url, None, "--temperature", "0.7")) == 2
    err = capsys.readouterr().err
    assert "holds responses generated with other settings" in err and "use another --out" in err


def test_pinned_items_file_is_reused(bench_paths, fake_openai, tmp_path, capsys):
    paths = {"tfns": bench_paths["tfns"]}
    pinned = tmp_path / "pinned.json"
    argv = ["select", "--bench", f"tfns={paths['tfns']}", "--seed", "5", "--limit", "4", "--out", str(pinned)]
    assert main(argv) == 0
    assert "tfns: 4 items" in capsys.readouterr().out
    fake_openai.responder = lambda body: Reply(tagged("Neutral"))
    out = tmp_path / "run"
    assert main([*cli_args(paths, out, fake_openai.base_url, None), "--items", str(pinned)]) == 0
    ids = json.loads(pinned.read_text())["benchmarks"]["tfns"]["ids"]
    assert [r["id"] for r in read_items(out, "tfns")] == ids
    assert json.loads((out / "items.json").read_text())["benchmarks"]["tfns"]["ids"] == ids


def test_a_larger_limit_extends_the_same_selection(bench_paths, fake_openai, tmp_path):
    paths = {"finqa": bench_paths["finqa"]}
    fake_openai.responder = Script(paths).model
    out = tmp_path / "run"
    assert main([*cli_args(paths, out, fake_openai.base_url, None), "--limit", "3"]) == 0
    first = [r["id"] for r in read_items(out, "finqa")]
    assert main(cli_args(paths, out, fake_openai.base_url, None)) == 0  # --limit 8
    assert len(fake_openai.requests) == LIMIT  # 3, then only the 5 new ones
    assert [r["id"] for r in read_items(out, "finqa")][:3] == first


def test_unknown_benchmark_and_bad_data_name_the_problem(tmp_path, fake_openai, capsys):
    assert (
        main(["run", "--bench", "finqa2=x.json", "--model", "m", "--model-urls", fake_openai.base_url]) == 2
    )
    assert "finr1-eval: unknown benchmark 'finqa2'; known: finqa, convfinqa," in capsys.readouterr().err
    bad = tmp_path / "finqa_test.json"
    bad.write_text('[{"question": "q", "answer": "1"')
    argv = [
        "run",
        "--bench",
        f"finqa={bad}",
        "--model",
        "m",
        "--model-urls",
        fake_openai.base_url,
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert f"{bad}: record line 1 column" in capsys.readouterr().err


def test_a_benchmark_without_items_has_no_score_and_blocks_the_average():
    empty = summarize([], judge_used=True)
    assert (empty.items, empty.rule_score, empty.judge_score) == (0, None, None)
    five = {"finqa": 60.0, "convfinqa": 70.0, "ant_finance": 80.0, "tfns": 90.0, "finance_instruct": 50.0}
    assert paper_average(five) == 70.0
    assert paper_average(five | {"finance_instruct": None}) is None
