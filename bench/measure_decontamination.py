"""How many rows each decontamination rule removes on the real excerpts, for the paper's benchmarks.

The evaluation items are ``finr1-eval select``'s (paper protocol, seed 0) over the benchmark files at
hand: FinQA (the first-100 test copy and the official-schema test subset), ConvFinQA dev (its
evaluable split), TFNS validation and Fin-Eva's Ant part.  Finance-Instruct-500k's evaluation split
is not available offline.  Every record of every excerpt is then prepared with ``--exclude-from``
(all splits: the table counts what each rule would remove from training, whatever the mix takes).
FinCUGE is read from the nine-task excerpt (the one with train lists).

    python bench/measure_decontamination.py [--ngram 8] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shared_data import real_data  # noqa: E402
from finr1_verl.data.build import PrepareConfig, SourceInput, prepare  # noqa: E402
from finr1_verl.data.decontaminate import REASONS, read_eval_texts  # noqa: E402
from finr1_verl.eval.cli import main as eval_main  # noqa: E402
from finr1_verl.table import format_table  # noqa: E402


def linked(folder: Path, *files: Path) -> Path:
    """A temporary folder holding ``files`` (one source or benchmark path over several upstream files
    or folders): files are linked, folders copied (the readers do not follow linked folders)."""
    folder.mkdir(parents=True)
    for file in files:
        if file.is_dir():
            shutil.copytree(file, folder / file.name)
        else:
            (folder / file.name).symlink_to(file)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ngram", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        finqa = linked(
            tmp / "finqa",
            real_data("finqa", "finqa_test_first100.json"),
            real_data("upstream_samples", "finqa_official", "test_subset.json"),
        )
        convfinqa = linked(
            tmp / "convfinqa",
            real_data("convfinqa", "convfinqa_dev_part1.json"),
            *sorted(real_data("upstream_samples", "convfinqa_official").glob("*.json")),
        )
        benches = {
            "finqa": finqa,
            "convfinqa": real_data("convfinqa", "convfinqa_dev_part1.json"),
            "tfns": real_data("tfns", "sent_valid.csv"),
            "ant_finance": real_data("ant_fineva", "Ant"),
        }
        items = tmp / "items.json"
        argv = ["select", "--out", str(items)] + [f"--bench={name}={path}" for name, path in benches.items()]
        if eval_main(argv) != 0:
            raise SystemExit("finr1-eval select failed")
        texts = read_eval_texts(items)
        fin_eva = linked(
            tmp / "fin_eva", real_data("ant_fineva", "Ant"), real_data("upstream_samples", "fin_eva", "SUFE")
        )
        sources = [
            SourceInput("finqa", finqa),
            SourceInput("convfinqa", convfinqa),
            SourceInput("tfns", real_data("tfns")),
            SourceInput("financeiq", real_data("financeiq")),
            SourceInput("ant_fineva", fin_eva),
            SourceInput("fincuge", real_data("upstream_samples", "fincuge")),  # the 9 tasks with train lists
        ]
        config = PrepareConfig(out=tmp / "out", eval_items=tuple(texts), ngram=args.ngram, progress=False)
        report = prepare(sources, config)
    counts = {name: len([t for t in texts if t.source == name]) for name in sorted({t.source for t in texts})}
    print(f"evaluation items: {json.dumps(counts)}; n-gram {args.ngram}")
    rows = []
    for name, stats in report["sources"].items():
        by_reason = stats["rejected_by_reason"]
        rows.append(
            [name, stats["read"], *(by_reason.get(reason, 0) for reason in REASONS), stats["written"]]
        )
    print(format_table(["source", "read", *REASONS, "written"], rows))


if __name__ == "__main__":
    main()
