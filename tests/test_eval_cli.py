"""finr1-eval's command line: inputs checked before a model is loaded, the paper preset, progress
off a terminal.  The model under test and the judge are loopback servers (real HTTP)."""

from __future__ import annotations

import json

import pytest

from finr1_verl.data.resumable import ResumableRun
from finr1_verl.data.samples import SPEC
from finr1_verl.eval import cli
from finr1_verl.eval.cli import main
from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply
from tests.support.shared_data import shared_path
from tests.test_eval_items import write_instruct


@pytest.fixture(autouse=True)
def no_judge_from_the_environment(monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    monkeypatch.delenv("FINR1_JUDGE_MODEL", raising=False)


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fails the test if the command gets as far as building a generation backend."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr(cli, "make_backend", refuse)


def test_a_missing_model_folder_is_bad_input(tmp_path, capsys, no_model_loading):
    tfns = shared_path("tfns", "sent_valid.csv")
    argv = ["run", "--bench", f"tfns={tfns}", "--model", str(tmp_path / "nope"), "--backend", "hf"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert f"--model {tmp_path / 'nope'}: no such model folder" in capsys.readouterr().err


def test_a_bad_benchmark_file_is_found_before_the_model_loads(tmp_path, capsys, no_model_loading):
    bad = tmp_path / "finqa_test.json"
    bad.write_text('[{"question": "q", "answer": "1"')
    model = tmp_path / "model"
    model.mkdir()
    argv = [
        "run",
        "--bench",
        f"finqa={bad}",
        "--model",
        str(model),
        "--backend",
        "hf",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert f"{bad}: record line 1 column" in capsys.readouterr().err
    items = tmp_path / "items.json"
    items.write_text('{"benchmarks": {"tfns": {"ids": ["no-such-id"]}}}')
    argv = ["run", "--bench", f"tfns={shared_path('tfns', 'sent_valid.csv')}", "--items", str(items)]
    assert main([*argv, "--model", str(model), "--out", str(tmp_path / "o")]) == 2
    assert "1 selected item id(s) of tfns are not in the data" in capsys.readouterr().err


def test_paper_preset_needs_a_judge_and_refuses_other_settings(tmp_path, capsys, no_model_loading):
    base = ["run", "--paper", "--bench", f"tfns={shared_path('tfns', 'sent_valid.csv')}", "--model", "m"]
    assert main(base) == 2
    assert "--paper judges every answer" in capsys.readouterr().err
    judge = ["--judge-urls", "http://127.0.0.1:9/v1", "--judge-model", "j"]
    assert main([*base, *judge, "--temperature", "0.2"]) == 2
    assert "--paper sets --temperature 0.6; drop --temperature or --paper" in capsys.readouterr().err
    assert main([*base, *judge, "--limit", "5"]) == 2


def answer(body: dict) -> Reply:
    return Reply("<think>\nRecall the definition.\n</think>\n<answer>\nIt depends on the terms.\n</answer>")


@pytest.mark.slow
def test_paper_preset_runs_the_paper_protocol(tmp_path, fake_openai, capsys):
    instruct = tmp_path / "train.json"
    write_instruct(instruct)  # 200 records: the 10% stratified subset is 20 items
    out = tmp_path / "run"
    with FakeOpenAIServer(model="judge") as judge:
        judge.responder = lambda body: Reply("\\boxed{1}")
        fake_openai.responder = answer
        argv = ["run", "--paper", "--bench", f"finance_instruct={instruct}", "--model", "fin-r1"]
        argv += [
            "--model-urls",
            fake_openai.base_url,
            "--judge-urls",
            judge.base_url,
            "--judge-model",
            "judge",
        ]
        assert main([*argv, "--out", str(out)]) == 0
        assert len(judge.requests) == 20  # every answer judged, none decided by rules alone
    assert {
        (b["temperature"], b["top_p"], b["max_tokens"], b["top_k"], b["repetition_penalty"])
        for b in fake_openai.requests
    } == {(0.6, 0.95, 4096, -1, 1.0)}
    run = json.loads((out / "run.json").read_text())
    assert run["scoring"]["mode"] == "always"
    results = json.loads((out / "results.json").read_text())
    assert results["n-samples"]["finance_instruct"]["effective"] == 20 and results["config"]["limit"] is None
    report = (out / "report.md").read_text()
    cells = " | ".join(["**not run**"] * 4 + ["**100.0 [83.9–100.0] n=20**", "**—**"])
    assert f"| **fin-r1 (judge, mode always)** | {cells} |" in report
    assert "eval finance_instruct: 20/20 item" in capsys.readouterr().err  # progress as lines


def test_progress_is_a_line_per_n_items_off_a_terminal(tmp_path, capsys):
    with ResumableRun(tmp_path / "store.jsonl", desc="eval x", unit=" item", log_every=2) as run:
        run.start(5)
        for k in range(5):
            run.save({"key": str(k)})
        run.finish()
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == ["eval x: 2/5 item", "eval x: 4/5 item", "eval x: 5/5 item"]
    with ResumableRun(tmp_path / "quiet.jsonl", desc="eval y", unit=" item", progress=False) as run:
        run.start(3)
        for k in range(3):
            run.save({"key": str(k)})
    assert capsys.readouterr().err == ""


def test_financeiq_and_fincuge_get_their_own_table(tmp_path, fake_openai):
    bench = SPEC.parent  # the shipped samples
    fake_openai.responder = answer
    out = tmp_path / "run"
    argv = ["run", "--bench", f"financeiq={bench / 'financeiq'}", "--bench", f"fincuge={bench / 'fincuge'}"]
    argv += ["--model", "m", "--model-urls", fake_openai.base_url, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "report.md").read_text()
    other = next(
        line for line in report.splitlines() if line.startswith("| **m (rules only)** |") and "n=" in line
    )
    for name in ("financeiq", "fincuge"):
        b = summary["benchmarks"][name]
        assert (
            f"{b['rule_score']:.1f} [{b['rule_ci95'][0]:.1f}–{b['rule_ci95'][1]:.1f}] n={b['items']}" in other
        )
    assert report.count("not run") >= 5  # the paper's five did not run
