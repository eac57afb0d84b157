"""``hf:`` sources: hub-only datasets streamed through ``datasets``, tested on local folders in the
hub's layout (no network)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finr1_verl.data.cli import main
from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import HUB_READERS, hub_parser_for, parser_for
from finr1_verl.data.sources.hub import HubSpec
from finr1_verl.exitcodes import BAD_INPUT, DONE

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def hub_folders(root: Path) -> dict[str, Path]:
    """Each hub-only source's fixture laid out as its hub repository publishes it."""
    folders = {name: root / name for name in HUB_READERS}
    shutil.copytree(FIXTURES / "finance_instruct", folders["finance_instruct"])  # train.json at the root
    (folders["fincorpus"] / "data").mkdir(parents=True)
    with gzip.open(folders["fincorpus"] / "data" / "fin_exam.jsonl.gz", "wb") as out:
        out.write((FIXTURES / "fincorpus" / "fin_exam.jsonl").read_bytes())
    (folders["financeqt"] / "data").mkdir(parents=True)
    records = [json.loads(line) for line in (FIXTURES / "financeqt" / "train.jsonl").read_text().splitlines()]
    pq.write_table(
        pa.Table.from_pylist(records), folders["financeqt"] / "data" / "train-00000-of-00001-35e07da1.parquet"
    )
    (folders["fin_r1"] / "data").mkdir(parents=True)
    shutil.copy(FIXTURES / "fin_r1" / "fin_r1_data.jsonl", folders["fin_r1"] / "data" / "train.jsonl")
    return folders


def test_spec_syntax():
    assert HubSpec.parse("hf:Josephgflowers/Finance-Instruct-500k") == HubSpec(
        "Josephgflowers/Finance-Instruct-500k"
    )
    spec = HubSpec.parse("hf:ORG/NAME:zh@v1.0")
    assert (spec.name, spec.config, spec.revision, str(spec)) == (
        "ORG/NAME",
        "zh",
        "v1.0",
        "hf:ORG/NAME:zh@v1.0",
    )
    with pytest.raises(ValueError, match="expected hf:ORG/NAME"):
        HubSpec.parse("hf:")


def test_hub_layout_gives_the_same_examples_as_the_files(tmp_path):
    for name, folder in hub_folders(tmp_path).items():
        streamed = [i for i in hub_parser_for(name)(HubSpec(str(folder))) if isinstance(i, Example)]
        local = [i for i in parser_for(name)(folder) if isinstance(i, Example)]
        assert streamed, name
        assert [(e.question, e.answer, e.answer_type, e.context, e.choices) for e in streamed] == [
            (e.question, e.answer, e.answer_type, e.context, e.choices) for e in local
        ], name
        assert {e.split for e in streamed} == {"train"}


def test_prepare_records_the_revision_and_refuses_other_sources(tmp_path, capsys):
    folders = hub_folders(tmp_path / "hub")
    out = tmp_path / "out"
    argv = ["prepare", "--out", str(out), "--no-progress"]
    sources = [arg for name, folder in folders.items() for arg in ("--source", f"{name}=hf:{folder}")]
    assert main([*argv, *sources]) == DONE
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["config"]["hub"]["financeqt"]["revision"] == "main"
    assert report["config"]["sources"]["fin_r1"] == f"hf:{folders['fin_r1']}"
    assert report["sources"]["fincorpus"]["written"] == 3 and report["sources"]["fin_r1"]["sft_rows"] == 3
    assert main([*argv, "--source", f"finqa=hf:{folders['fin_r1']}"]) == BAD_INPUT
    assert main([*argv, "--source", f"fin_r1=hf:{tmp_path / 'nowhere'}"]) == BAD_INPUT
    err = capsys.readouterr().err
    assert (
        "hf: sources are read for finance_instruct" in err and "cannot open" in err and "Traceback" not in err
    )


def test_unreadable_hub_dataset_names_the_spec(tmp_path):
    with pytest.raises(RecordError, match="cannot open"):
        list(hub_parser_for("fin_r1")(HubSpec(str(tmp_path / "missing"))))
