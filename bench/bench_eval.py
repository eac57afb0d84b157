"""Benchmarks for ``finr1-eval``: endpoint concurrency, resume, and memory of item selection.

1. Generation throughput against a loopback OpenAI server that takes ``--latency`` seconds per
   request (a model under test is latency-bound per request): items/s with ``--concurrency``
   requests in flight, against the baseline of one in flight, same run, same items.
2. Resume: the same run again on its finished output folder (every item reused, nothing sent),
   against the first run's wall time.
3. Selection of Finance-Instruct-500K's 10% stratified subset from a synthetic file of ``--rows``
   records, each side in its own process: the two-pass selection (only chosen examples kept)
   against the baseline that holds every parsed example (peak RSS and wall time).

    python bench/bench_eval.py [--items 128] [--latency 0.05] [--concurrency 32] [--rows 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_prepare import write_synthetic  # noqa: E402

from bench.shared_data import SHARED_DATA  # noqa: E402
from finr1_verl.eval.generate import EndpointBackend, Sampling  # noqa: E402
from finr1_verl.eval.runner import EvalConfig, run_eval  # noqa: E402
from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply  # noqa: E402

TFNS = SHARED_DATA / "tfns" / "sent_valid.csv"
ANSWER = "<think>\nThe tweet reports a loss.\n</think>\n<answer>\n\\boxed{Bearish}\n</answer>"


def timed_run(server: FakeOpenAIServer, out: Path, items: int, concurrency: int) -> float:
    backend = EndpointBackend(server.base_url, "bench-model", Sampling(), concurrency=concurrency)
    config = EvalConfig(data={"tfns": TFNS}, out=out, limit=items, progress=False)
    start = time.perf_counter()
    asyncio.run(run_eval(config, backend, None))
    return time.perf_counter() - start


def bench_generation(items: int, latency: float, concurrency: int, work: Path) -> None:
    with FakeOpenAIServer() as server:
        server.responder = lambda body: Reply(ANSWER, delay=latency)
        timed_run(server, work / "warmup", 4, 1)  # imports, parsing caches, first connections
        serial = timed_run(server, work / "serial", items, 1)
        parallel = timed_run(server, work / "parallel", items, concurrency)
        sent = len(server.requests)
        resumed = timed_run(server, work / "parallel", items, concurrency)
        assert len(server.requests) == sent, "a finished run must send nothing when resumed"
    print(
        f"| generation, {items} items, {latency * 1000:.0f} ms/request | concurrency 1 | "
        f"{items / serial:.1f} items/s | concurrency {concurrency} | {items / parallel:.1f} items/s | "
        f"x{serial / parallel:.1f} |"
    )
    print(
        f"| resume of a finished run | first run | {parallel:.2f} s | rerun | {resumed:.2f} s | "
        f"x{parallel / resumed:.1f} faster |"
    )


SELECT = """
import sys, time
from finr1_verl.data.records import Example
from finr1_verl.eval.benchmarks import BENCHMARKS, iter_parsed
from finr1_verl.eval.items import load_items, select_ids
bench = BENCHMARKS["finance_instruct"]
start = time.perf_counter()
if sys.argv[2] == "baseline":
    examples = [e for e in iter_parsed(bench, sys.argv[1]) if isinstance(e, Example)]
    count = len(select_ids(bench, [(e.id, bench.selection.stratify(e)) for e in examples], 0))
else:
    count = len(load_items(bench, sys.argv[1], 0).items)
print(count, time.perf_counter() - start)
"""


def run_selection(path: Path, mode: str) -> tuple[int, float, float]:
    """(items, seconds, peak RSS MiB) of one selection in a fresh interpreter.

    ``ru_maxrss`` of children is the largest child so far, so the smaller side must run first.
    """
    done = subprocess.run(
        [sys.executable, "-c", SELECT, str(path), mode], check=True, capture_output=True, text=True, cwd=REPO
    )
    count, seconds = done.stdout.split()
    return int(count), float(seconds), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_selection(rows: int, work: Path) -> None:
    path = work / "finance_instruct.jsonl"
    write_synthetic(path, rows)
    count, ours_s, ours_mib = run_selection(path, "two_pass")
    base_count, base_s, base_mib = run_selection(path, "baseline")
    assert count == base_count, (count, base_count)
    print(
        f"| select 10% stratified of {rows:,} records ({count:,} items) | hold all examples | "
        f"{base_mib:.0f} MiB, {base_s:.1f} s | two passes | {ours_mib:.0f} MiB, {ours_s:.1f} s | "
        f"memory x{base_mib / ours_mib:.2f}, time x{ours_s / base_s:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    if not TFNS.exists():
        raise SystemExit(f"{TFNS} is absent: the generation benchmark reads real TFNS items")
    print("| benchmark | baseline | value | measured | value | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        bench_generation(args.items, args.latency, args.concurrency, Path(tmp))
        bench_selection(args.rows, Path(tmp))


if __name__ == "__main__":
    main()
