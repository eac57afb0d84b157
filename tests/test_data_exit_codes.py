"""``finr1-data prepare`` exit codes: bad paths are BAD_INPUT without a traceback; a source that
writes nothing or rejects too much of its labelled data is FAILED with its top reject reasons."""

from __future__ import annotations

import json

from finr1_verl.data.cli import main
from finr1_verl.exitcodes import BAD_INPUT, DONE, FAILED
from tests.support.shared_data import shared_path

FINQA = {"id": "A", "question": "What was the growth?", "answer": "14%"}


def prepare(tmp_path, *argv: str) -> int:
    return main(["prepare", *argv, "--out", str(tmp_path / "out"), "--no-progress"])


def test_bad_paths_are_bad_input_without_a_traceback(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a dataset")
    assert prepare(tmp_path, "--source", f"fincuge={notes}") == BAD_INPUT
    assert prepare(tmp_path, "--source", f"finqa={tmp_path / 'missing.json'}") == BAD_INPUT
    assert prepare(tmp_path, "--source", f"financeiq={tmp_path}") == BAD_INPUT
    err = capsys.readouterr().err
    assert "not a FinCUGE list file" in err and "missing.json: no such file" in err and "no .csv file" in err
    assert "Traceback" not in err


def test_a_source_with_no_row_fails_naming_its_reasons(tmp_path, capsys):
    private = shared_path("upstream_samples", "convfinqa_official", "test_private.json")
    assert prepare(tmp_path, "--source", f"convfinqa={private}") == FAILED
    turns = sum(
        len(c["annotation"]["dialogue_break"]) for c in json.loads(private.read_text(encoding="utf-8"))
    )
    err = capsys.readouterr().err
    assert f"convfinqa: no row written from {turns} records; top reject reasons: unlabelled {turns}" in err
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["failures"] and report["sources"]["convfinqa"]["accounted"]


def test_too_many_rejects_fail_and_the_limit_is_a_flag(tmp_path, capsys):
    data = tmp_path / "finqa.json"
    data.write_text(
        json.dumps([FINQA, {**FINQA, "id": "B", "answer": ""}, {**FINQA, "id": "C", "answer": " "}])
    )
    assert prepare(tmp_path, "--source", f"finqa={data}") == FAILED
    assert "finqa: 67% of 3 labelled records rejected (limit 50%); top reject reasons: empty_answer 2" in (
        capsys.readouterr().err
    )
    assert prepare(tmp_path, "--source", f"finqa={data}", "--max-reject-fraction", "0.7") == DONE


def test_unlabelled_records_do_not_count_as_failures(tmp_path):
    fin_eva = shared_path("ant_fineva")  # about 72% of the rows have no public answer
    assert prepare(tmp_path, "--source", f"ant_fineva={fin_eva}", "--source", "fincuge=" + str(
        shared_path("upstream_samples", "fincuge"))) == DONE  # fmt: skip
