"""The shipped sample (every source in its upstream schema) prepares cleanly: the CPU smoke run."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from finr1_verl.data.cli import main
from finr1_verl.data.samples import SPEC
from finr1_verl.data.sources import SOURCES


def test_sample_spec_covers_every_source_and_prepares(tmp_path, capsys):
    assert main(["prepare", "--spec", str(SPEC), "--out", str(tmp_path), "--no-progress"]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert set(report["sources"]) == set(SOURCES)
    for name, stats in report["sources"].items():
        assert stats["written"] > 0 and stats["accounted"], name
    # the sample's deliberate gaps: a hidden Fin-Eva answer and FinCUGE's unlabelled problem list
    assert report["sources"]["ant_fineva"]["rejected_by_reason"] == {"unlabelled": 1}
    assert report["sources"]["fincuge"]["rejected_by_reason"] == {"unlabelled": 2}
    train, val = (pq.read_metadata(tmp_path / "rl" / f"{s}.parquet").num_rows for s in ("train", "val"))
    kept_out = sum(sum(stats["kept_out_of_mix"].values()) for stats in report["sources"].values())
    assert kept_out == report["sources"]["ant_fineva"]["written"], "Fin-Eva is test-only: not in the mix"
    assert train + val == report["totals"]["written"] - kept_out
    sft = sum(pq.read_metadata(tmp_path / "sft" / f"{s}.parquet").num_rows for s in ("train", "val"))
    assert sft == report["sources"]["fin_r1"]["sft_rows"] == 3
    assert "TOTAL" in capsys.readouterr().out
