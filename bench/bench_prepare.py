"""Scale benchmark for ``finr1-data prepare``: synthetic Finance-Instruct-500k rows -> parquet.

Target: 1,000,000 rows in <= 2 minutes on 2 cores with peak RSS <= 2 GB.  Each stage
runs in its own process so that peak RSS is that stage's alone.  The baseline, measured in the
same run, only reads and JSON-decodes the same file; the ratio says what parsing, rendering and
writing cost on top of touching the data once.

    python bench/bench_prepare.py [--rows 1000000] [--mix all|fin-r1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finr1_verl.table import format_table  # noqa: E402

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


def _run_stage(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; (wall seconds, peak RSS in MiB) of that process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
report = prepare([SourceInput("finance_instruct", Path({path!r}))],
                 PrepareConfig(out=Path({out!r}), mix={mix!r}, progress=False))
print("prepare", report["totals"], report["outputs"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mix", default="all", choices=["all", "fin-r1"])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        data = Path(tmp) / "train.json"
        write_synthetic(data, args.rows)
        size_mb = data.stat().st_size / 2**20
        base_wall, base_rss = _run_stage(BASELINE.format(path=str(data)))
        # RUSAGE_CHILDREN keeps the maximum over all children: the prepare child runs second and is
        # the larger one, so its reading is its own peak.
        prep_wall, prep_rss = _run_stage(
            PREPARE.format(path=str(data), out=str(Path(tmp) / "out"), mix=args.mix)
        )
    print()
    print(f"input: {args.rows:,} rows, {size_mb:.0f} MiB JSONL, mix={args.mix}")
    rows = [
        [stage, f"{wall:.1f}", f"{args.rows / wall:,.0f}", f"{rss:.0f}"]
        for stage, wall, rss in (
            ("baseline (json read)", base_wall, base_rss),
            ("prepare", prep_wall, prep_rss),
        )
    ]
    print(format_table(["stage", "wall s", "rows/s", "peak RSS MiB"], rows))
    print(f"ratio prepare/baseline: time {prep_wall / base_wall:.1f}x")
    print(
        f"targets: wall <= 120 s -> {'OK' if prep_wall <= 120 else 'MISSED'}; "
        f"peak RSS <= 2048 MiB -> {'OK' if prep_rss <= 2048 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
