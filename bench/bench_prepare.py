"""Scale benchmark for ``finr1-data prepare``: synthetic Finance-Instruct-500k rows -> parquet, and
a FinCUGE release of the published size.

Target: 1,000,000 Finance-Instruct rows in <= 2 minutes on 2 cores with peak RSS <= 2 GB.  Each
stage runs in its own process so that peak RSS is that stage's alone.  The baselines, measured in
the same run, only read and JSON-decode the same files; the ratios say what parsing, rendering and
writing cost on top of touching the data once.

The FinCUGE stage builds the nine task folders at the record counts of the published release
(ssymmetry/BBT-FinCUGE-Applications @ 654d132; the train files of FinNA and FinQA at the sizes its
README gives, FinCQA's train file left out as its size is not published) by repeating the real
excerpts in ``../shared/data/upstream_samples/fincuge``, so every record has its task's real layout
and length; ``--fincuge-dir`` runs it on a downloaded release instead.

The decontamination stage prepares the same synthetic Finance-Instruct rows (``--decontam-rows``,
default 200,000) twice in one run: without evaluation items, and with ``--exclude-from`` an items
file of 5 benchmarks x 1,000 items (questions of benchmark length, report-page document keys),
the default 8-gram rule on.  Target: on/off <= 2x.

    python bench/bench_prepare.py [--rows 1000000] [--mix all|fin-r1] [--workdir DIR]
                                  [--skip-instruct] [--fincuge-dir DIR] [--decontam-rows N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finr1_verl.table import format_table  # noqa: E402

EXCERPTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "upstream_samples" / "fincuge"
# Records per task and list file in the published FinCUGE release.
FINCUGE_RELEASE = {
    "fincqa": {"eval": 2741, "problem": 2745},
    "finese": {"train": 14252, "eval": 1781, "problem": 1782},
    "finfe": {"train": 16157, "eval": 2020, "problem": 2020},
    "finna": {"train": 24000, "eval": 3600, "problem": 3600},
    "finne": {"train": 4000, "eval": 500, "problem": 501},
    "finnl": {"train": 7071, "eval": 884, "problem": 884},
    "finnsp": {"train": 4000, "eval": 500, "problem": 500},
    "finqa": {"train": 16000, "eval": 2469, "problem": 2480},
    "finre": {"train": 13486, "eval": 1489, "problem": 3727},
}
_TOPICS = ["bond yields", "inflation", "a stock buyback", "EBITDA margins", "currency hedging", "an IPO"]


def write_synthetic(path: Path, rows: int, seed: int = 0) -> None:
    """Finance-Instruct-500k records (``system``, ``user``, ``assistant``) of realistic length."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for index in range(rows):
            topic = rng.choice(_TOPICS)
            record = {
                "system": "You are a financial analyst." if index % 3 == 0 else "",
                "user": f"Question {index}: explain how {topic} affects a company with revenue of "
                f"${rng.randint(1, 900)} million and a debt ratio of {rng.random():.2f}.",
                "assistant": f"{topic.capitalize()} changes cash flows. " * rng.randint(3, 12),
            }
            out.write(json.dumps(record) + "\n")


def write_fincuge_release(root: Path) -> int:
    """The FinCUGE task folders at the release's sizes, from the real excerpts; returns the record count."""
    total = 0
    for task, sizes in FINCUGE_RELEASE.items():
        (root / task).mkdir(parents=True)
        for split, count in sizes.items():
            excerpt = EXCERPTS / task / f"{split}_list.json"
            if not excerpt.exists():  # a train file the excerpt lacks: the labelled eval records
                excerpt = EXCERPTS / task / "eval_list.json"
            records = json.loads(excerpt.read_text(encoding="utf-8"))
            release = list(itertools.islice(itertools.cycle(records), count))
            (root / task / f"{split}_list.json").write_text(
                json.dumps(release, ensure_ascii=False), encoding="utf-8"
            )
            total += count
    return total


def _run_stage(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; (wall seconds, peak RSS in MiB) of that process alone."""
    peak = "\nimport resource\nprint('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + peak], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("PEAK_KIB")))
    peak_kib = int(next(line for line in lines if line.startswith("PEAK_KIB")).split()[1])
    return wall, peak_kib / 1024


BASELINE = """
import json, sys
n = 0
with open(sys.argv[1] if len(sys.argv) > 1 else {path!r}, encoding="utf-8") as f:
    for line in f:
        json.loads(line); n += 1
print(f"baseline read {{n}} rows")
"""

PREPARE = """
from pathlib import Path
from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.decontaminate import read_eval_texts
items = {items!r}
report = prepare([SourceInput({source!r}, Path({path!r}))],
                 PrepareConfig(out=Path({out!r}), mix={mix!r}, progress=False,
                               eval_items=tuple(read_eval_texts(Path(items))) if items else ()))
print("prepare", report["totals"], report["outputs"], report["decontamination"])
"""

FINCUGE_BASELINE = """
import json
from pathlib import Path
n = sum(len(json.loads(p.read_text(encoding="utf-8"))) for p in sorted(Path({path!r}).glob("*/*_list.json")))
print(f"baseline read {{n}} records")
"""


def write_eval_items(path: Path, benchmarks: int = 5, per_benchmark: int = 1000, seed: int = 1) -> int:
    """An items file as ``finr1-eval select`` writes it: ``benchmarks`` x ``per_benchmark`` items with
    questions of FinQA length (about 20 words) and a report-page document each."""
    rng = random.Random(seed)
    payload = {"benchmarks": {}}
    for bench in range(benchmarks):
        entries = []
        for index in range(per_benchmark):
            topic = rng.choice(_TOPICS)
            question = (
                f"Benchmark {bench} item {index}: what was the change in {topic} between "
                f"{rng.randint(2000, 2020)} and {rng.randint(2000, 2020)} as a share of total assets of ${rng.randint(1, 999)} million?"
            )
            document = f"CO{bench}/{2000 + index % 20}/page_{index}.pdf"
            entries.append(
                {"source": f"bench{bench}", "id": str(index), "question": question, "document": document}
            )
        payload["benchmarks"][f"bench{bench}"] = {
            "ids": [e["id"] for e in entries],
            "decontamination": entries,
        }
    path.write_text(json.dumps(payload), encoding="utf-8")
    return benchmarks * per_benchmark


def _report(title: str, rows: int, base: tuple[float, float], prep: tuple[float, float]) -> None:
    print(title)
    table = [
        [stage, f"{wall:.1f}", f"{rows / wall:,.0f}", f"{rss:.0f}"]
        for stage, (wall, rss) in (("baseline (json read)", base), ("prepare", prep))
    ]
    print(format_table(["stage", "wall s", "rows/s", "peak RSS MiB"], table))
    print(f"ratio prepare/baseline: time {prep[0] / base[0]:.1f}x")


def bench_instruct(tmp: Path, rows: int, mix: str) -> None:
    data = tmp / "train.json"
    write_synthetic(data, rows)
    size_mb = data.stat().st_size / 2**20
    base = _run_stage(BASELINE.format(path=str(data)))
    prep = _run_stage(
        PREPARE.format(source="finance_instruct", path=str(data), out=str(tmp / "out"), mix=mix, items="")
    )
    print()
    _report(f"Finance-Instruct: {rows:,} rows, {size_mb:.0f} MiB JSONL, mix={mix}", rows, base, prep)
    print(
        f"targets: wall <= 120 s -> {'OK' if prep[0] <= 120 else 'MISSED'}; "
        f"peak RSS <= 2048 MiB -> {'OK' if prep[1] <= 2048 else 'MISSED'}"
    )


def bench_fincuge(tmp: Path, release: Path | None, mix: str) -> None:
    if release is None:
        if not EXCERPTS.exists():
            print(f"\nFinCUGE stage skipped: {EXCERPTS} is absent")
            return
        release = tmp / "fincuge"
        write_fincuge_release(release)
    records = sum(len(json.loads(p.read_text(encoding="utf-8"))) for p in release.glob("*/*_list.json"))
    base = _run_stage(FINCUGE_BASELINE.format(path=str(release)))
    prep = _run_stage(
        PREPARE.format(source="fincuge", path=str(release), out=str(tmp / "out-fincuge"), mix=mix, items="")
    )
    print()
    _report(f"FinCUGE release-sized: {records:,} records in {release}, mix={mix}", records, base, prep)


def bench_decontamination(tmp: Path, rows: int, mix: str) -> None:
    data = tmp / "decontam" / "train.json"
    data.parent.mkdir()
    write_synthetic(data, rows)
    items = tmp / "items.json"
    count = write_eval_items(items)
    runs = {}
    for label, items_file in (("decontamination off", ""), ("decontamination on", str(items))):
        out = str(tmp / f"out-{label.split()[-1]}")
        code = PREPARE.format(source="finance_instruct", path=str(data), out=out, mix=mix, items=items_file)
        runs[label] = _run_stage(code)
    print(f"\nDecontamination: {rows:,} Finance-Instruct rows against {count:,} evaluation items, mix={mix}")
    table = [
        [label, f"{wall:.1f}", f"{rows / wall:,.0f}", f"{rss:.0f}"] for label, (wall, rss) in runs.items()
    ]
    print(format_table(["stage", "wall s", "rows/s", "peak RSS MiB"], table))
    ratio = runs["decontamination on"][0] / runs["decontamination off"][0]
    print(f"ratio on/off: time {ratio:.2f}x (target <= 2x -> {'OK' if ratio <= 2 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mix", default="all", choices=["all", "fin-r1"])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-instruct", action="store_true", help="run the FinCUGE stage only")
    parser.add_argument("--fincuge-dir", type=Path, help="a downloaded FinCUGE release (FinCUGE_Publish)")
    parser.add_argument(
        "--decontam-rows", type=int, default=200_000, help="rows of the decontamination stage (0: skip)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if not args.skip_instruct:
            bench_instruct(Path(tmp), args.rows, args.mix)
        bench_fincuge(Path(tmp), args.fincuge_dir, args.mix)
        if args.decontam_rows:
            bench_decontamination(Path(tmp), args.decontam_rows, args.mix)


if __name__ == "__main__":
    main()
