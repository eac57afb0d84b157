"""``finr1-reward-audit`` on the shipped samples and on the real data (with a loopback judge to calibrate)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from finr1_verl.data.cli import main as data_main
from finr1_verl.data.samples import SPEC
from finr1_verl.reward import audit, keys
from finr1_verl.reward.match import RULES_VERSION, Verdict, rule_verdict
from finr1_verl.reward.numbers import parse_number
from finr1_verl.reward.score import ScoreSettings, read_sample
from finr1_verl.smoke.fake_openai import Reply
from tests.fixtures.answer.real_rows import prepare_real_rows
from tests.support.shared_data import shared_path

FAST = ["--pairs", "20", "--key-rows", "120", "--generations", "5", "--no-progress"]


@pytest.fixture(scope="module")
def sample_parquets(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("samples")
    assert data_main(["prepare", "--spec", str(SPEC), "--out", str(out), "--no-progress"]) == 0
    paths = sorted(out.glob("sources/*/rl.parquet"))
    assert len(paths) >= 10
    return paths


@pytest.fixture(scope="module")
def real_parquets(tmp_path_factory) -> list[Path]:
    return prepare_real_rows(shared_path(), tmp_path_factory.mktemp("real"))


def test_every_shipped_sample_passes(sample_parquets, tmp_path, capsys):
    for path in sample_parquets:
        report = tmp_path / f"{path.parent.name}.json"
        assert audit.main([str(path), *FAST, "--json", str(report)]) == 0, capsys.readouterr().out
        checks = {check["name"]: check for check in json.loads(report.read_text())["checks"]}
        assert checks["own_gold"]["failed"] == 0 and checks["own_gold"]["checked"] > 0
        assert checks["universal_keys"]["failed"] == 0 and checks["universal_keys"]["checked"] > 3000


def rules_judge(body: dict) -> Reply:
    """A loopback judge that decides by the rules, from what the prompt shows (UNDECIDED counts as different)."""
    user = body["messages"][-1]["content"]
    reference = user.split("<reference_answer>\n")[1].split("\n</reference_answer>")[0]
    readings = [
        reference.split("\n")[0],
        *(line[len("(equivalently: ") : -1] for line in reference.split("\n")[1:]),
    ]
    candidate = user.split("<candidate_answer>\n")[1].split("\n</candidate_answer>")[0]
    options = {}
    if "<options>" in user:
        block = user.split("<options>\n")[1].split("\n</options>")[0]
        options = dict(line.split(". ", 1) for line in block.split("\n") if ". " in line)
    answer_type = None
    if options and readings[0] in options:
        answer_type = "choice" if readings[0].isalpha() and readings[0].isupper() else "label"
    if answer_type == "choice":
        candidate = candidate[:1].upper() + candidate[1:]  # the candidate block is case-folded
    equal = rule_verdict(candidate, readings, answer_type, options or None) is Verdict.EQUAL
    return Reply(content="\\boxed{1}" if equal else "\\boxed{0}")


def test_real_data_passes_with_a_calibrated_judge(real_parquets, fake_openai, tmp_path, capsys):
    fake_openai.responder = rules_judge
    report = tmp_path / "audit.json"
    args = [*map(str, real_parquets), *FAST, "--json", str(report)]
    args += ["--judge-urls", fake_openai.base_url, "--judge-model", "rules", "--judge-pairs", "300"]
    status = audit.main(args)
    out = capsys.readouterr().out
    print(out)
    assert status == 0, out
    result = json.loads(report.read_text())
    checks = {check["name"]: check for check in result["checks"]}
    assert checks["rows"]["checked"] > 13_000 and checks["pairs"]["checked"] > 200_000
    assert result["universal_keys"] == []
    judge = result["judge"]
    assert judge["pairs"] == 300 and judge["errors"] == 0
    assert judge["false_accept"] <= 0.05 and judge["false_reject"] <= 0.05 and judge["rule_agreement"] >= 0.95
    assert set(judge["latency_ms"]) == {"p50", "p90", "p99"}
    assert len(fake_openai.requests) >= 200  # identical pairs are asked once (the client caches)


def test_a_universal_key_fails_the_audit(sample_parquets, monkeypatch, capsys):
    """With relatedness switched off every label and letter answer hits "unrelated" golds: exit 1."""
    monkeypatch.setattr(keys, "related", lambda answer, sample: False)
    tfns = next(path for path in sample_parquets if path.parent.name == "tfns")
    assert audit.main([str(tfns), *FAST]) == audit.EXIT_KEY
    assert "universal_keys" in capsys.readouterr().out


def test_console_script_runs(sample_parquets):
    result = subprocess.run(
        [sys.executable, "-m", "finr1_verl.reward.audit", str(sample_parquets[0]), *FAST],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "own_gold" in result.stdout and "universal_keys" in result.stdout


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(SystemExit):
        audit.main([str(tmp_path / "missing.parquet")])
    with pytest.raises(SystemExit):
        audit.main([str(tmp_path / "missing.parquet"), "--judge-urls", "http://x"])


def test_the_rules_version_is_recorded_in_settings_and_the_audit(sample_parquets, tmp_path):
    assert ScoreSettings().rules_version == RULES_VERSION and RULES_VERSION.startswith("finr1-rules-")
    report = tmp_path / "audit.json"
    assert audit.main([str(sample_parquets[0]), *FAST, "--json", str(report)]) == 0
    assert json.loads(report.read_text())["rules_version"] == RULES_VERSION


def test_audit_reports_what_an_accept_everything_judge_accepts(
    sample_parquets, fake_openai, tmp_path, capsys
):
    """Every shipped sample: 0 answer-free strings reach the judge on closed and numeric rows; with a
    loopback judge that accepts everything, the audit reports what it accepts (the text rows' share)."""
    fake_openai.responder = lambda body: Reply(content="\\boxed{1}")
    text_rows = 0
    for path in sample_parquets:
        report = tmp_path / f"{path.parent.name}.json"
        args = [
            str(path),
            *FAST,
            "--json",
            str(report),
            "--judge-urls",
            fake_openai.base_url,
            "--judge-model",
            "m",
        ]
        audit.main(args)
        result = json.loads(report.read_text())
        checks = {check["name"]: check for check in result["checks"]}
        assert checks["judge_exposure"]["failed"] == 0, (path, checks["judge_exposure"])
        for exposure in result["judge_exposure"]:
            if exposure["answer_type"] in audit.CLOSED_TYPES:
                assert exposure["reached"] == 0, (path, exposure)
            else:
                text_rows += 1
                assert exposure["share"] <= 0.30 and exposure["accepted"] == exposure["reached"], exposure
    assert text_rows > 0
    assert "judge accepts" in capsys.readouterr().out


def test_short_answers_are_every_mantissa_at_every_position():
    answers = set(audit.short_answers())
    assert {"1", "0.001", "1000", "999", "0.999", "9990", "0.00999", "108%", "0.108%", "1.08"} <= answers
    assert len(answers) == len({float(a.rstrip("%")) for a in answers if a.endswith("%")}) * 2


def test_the_short_answer_sweep_counts_what_the_rules_match(monkeypatch):
    """The sweep compares each answer only with the golds near its readings: it finds the same worst count
    as comparing every answer with every gold through the whole rule path."""
    rng = random.Random(3)
    golds = [
        "1.08",
        "1.0845",
        "108.4",
        "107.6%",
        "0.10845",
        "-1.08",
        "14%",
        "0.14464",
        "60.94",
        "2.5 million",
    ]
    golds += [f"{rng.choice(['', '-'])}{rng.uniform(0.001, 2000):.{rng.randint(0, 5)}f}" for _ in range(150)]
    golds += [f"{rng.uniform(0.1, 99):.{rng.randint(0, 3)}f}%" for _ in range(50)]
    samples = [read_sample("x", gold, {"id": str(i)}) for i, gold in enumerate(golds)]
    answers = [*rng.sample(audit.short_answers(), 300), "108%", "1.08", "14%", "0.145"]
    monkeypatch.setattr(audit, "short_answers", lambda: answers)
    check = audit.check_short_answers(samples, lambda items, _label: items)
    distinct = {parse_number(gold).value: sample for gold, sample in zip(golds, samples, strict=True)}
    brute = max(
        sum(rule_verdict(answer, s.readings, "numeric") is Verdict.EQUAL for s in distinct.values())
        for answer in answers
    )
    assert brute >= 3  # "108%" matches 1.08, 1.0845 and 108.4
    assert f"is rule-EQUAL to {brute} of {len(distinct)} distinct" in check.detail
