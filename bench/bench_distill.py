"""Scale benchmark for ``finr1-data distill``: the real pipeline against a loopback teacher with R1-like latency.

Target: 60,000 questions against a teacher answering in 2 s ± jitter with 256 request
slots: achieved concurrency >= 95% of the limit, client overhead <= 1 ms per request, flat memory.
Running all 60,000 at 2 s per request takes ~8 minutes at best, so the run covers ``--questions``
(default 2,000; 6,000 gives a longer steady state) and projects the full run from the steady
in-flight count (Little's law: rate = requests in flight / latency).

The teacher is the project's FakeOpenAIServer in its own process (so its CPU is not counted as the
client's and does not compete with it for the loop), with ``--concurrency`` serving slots, replying
with a ~6 KB trace after uniform(latency - jitter, latency + jitter) seconds and sampling its
in-flight count every 50 ms.  Measured in the same run:

* bare aiohttp — a loop posting requests with the same slot count: the least a Python client can
  spend per request (the baseline of the ratios);
* LLMClient — the project's shared client alone, called as distill calls it;
* distill — ``distill()`` end to end (parse, render, client, JSONL store, compaction, report).

Client overhead = CPU seconds of this process during the pipeline / requests.  Concurrency = the
server's mean in-flight count while requests were still arriving (ramp-up second excluded), over
the limit.  Memory = this process's RSS, sampled every 0.5 s.

    python bench/bench_distill.py [--questions 2000] [--concurrency 256] [--latency 2.0] [--jitter 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL_RUN = 60_000
TRACE = " ".join(
    f"Step {i}: the operating margin moves from {i * 1.7:.1f}% to {i * 1.9:.1f}%, so the change is {i * 0.2:.1f} points."
    for i in range(60)
)


def serve(port_file: Path, samples_file: Path, latency: float, jitter: float, slots: int) -> None:
    """The teacher process: FakeOpenAIServer with ``slots`` serving slots + an in-flight sampler."""
    from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply

    rng = random.Random(0)

    def responder(body: dict) -> Reply:
        return Reply(
            content=f"{TRACE}\n</think>\n\nThe change is \\boxed{{4.2}} points.",
            delay=rng.uniform(latency - jitter, latency + jitter),
        )

    server = FakeOpenAIServer(model="deepseek-ai/DeepSeek-R1", responder=responder, slots=slots).start()
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    port_file.write_text(str(server.port))
    while not stop.wait(0.05):
        samples.append((time.monotonic(), server.in_flight, len(server.requests)))
    server.stop()
    samples_file.write_text(json.dumps(samples))


def start_server(tmp: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str, Path]:
    port_file, samples_file = tmp / "port", tmp / f"samples-{time.monotonic_ns()}.json"
    port_file.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--serve", str(port_file), str(samples_file)]
    command += ["--latency", str(args.latency), "--jitter", str(args.jitter)]
    command += ["--concurrency", str(args.concurrency)]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the teacher process did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text()}/v1", samples_file


def stop_server(process: subprocess.Popen, samples_file: Path) -> list[tuple[float, int, int]]:
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    return [tuple(s) for s in json.loads(samples_file.read_text())]


def steady_concurrency(samples: list[tuple[float, int, int]], total: int) -> float:
    """Mean in-flight count while requests were still arriving, after the first second."""
    arriving = [(t, n) for t, n, received in samples if 0 < received < total]
    if not arriving:
        return 0.0
    start = arriving[0][0] + 1.0
    window = [n for t, n in arriving if t >= start] or [n for _, n in arriving]
    return sum(window) / len(window)


def write_source(path: Path, questions: int) -> None:
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        for index in range(questions):
            table = " | ".join(f"{rng.randint(100, 9999)}" for _ in range(40))
            question = f"Revenue table: {table}. What is the change in operating margin for segment {index}?"
            out.write(json.dumps({"id": f"q{index}", "question": question, "answer": "4.2"}) + "\n")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """This process's RSS every ``interval`` seconds, on a thread."""

    def __init__(self, interval: float = 0.5):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        process = psutil.Process()
        while not self._stop.wait(interval):
            self.samples.append(process.memory_info().rss / 2**20)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_baseline(url: str, requests: int, concurrency: int) -> tuple[float, float]:
    """Bare aiohttp: (wall seconds, CPU seconds) for ``requests`` posts with ``concurrency`` slots."""
    import aiohttp

    body = {"model": "deepseek-ai/DeepSeek-R1", "messages": [{"role": "user", "content": "x" * 1500}]}

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            remaining = iter(range(requests))

            async def worker() -> None:
                for _ in remaining:
                    async with session.post(f"{url}/chat/completions", json=body) as response:
                        await response.json()

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    cpu, wall = cpu_seconds(), time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - wall, cpu_seconds() - cpu


def run_client(url: str, requests: int, concurrency: int) -> tuple[float, float]:
    """The shared LLM client alone, as distill calls it: (wall seconds, CPU seconds)."""
    from finr1_verl.data.resumable import run_pool
    from finr1_verl.llm import LLMClient

    client = LLMClient(
        url, "deepseek-ai/DeepSeek-R1", max_concurrency=concurrency, timeout_s=60, cache_size=0, seed=None
    )
    messages = [{"role": "user", "content": "x" * 1500}, {"role": "assistant", "content": "<think>\n"}]

    async def ask(_: int) -> None:
        await client.chat(messages, temperature=0.6, max_tokens=16384, use_cache=False)

    async def main() -> None:
        await run_pool(range(requests), ask, concurrency)
        await client.aclose()

    cpu, wall = cpu_seconds(), time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - wall, cpu_seconds() - cpu


def run_pipeline(
    url: str, source: Path, out: Path, concurrency: int
) -> tuple[float, float, dict, list[float]]:
    """``distill()`` end to end: (wall seconds, CPU seconds, report, RSS samples in MiB)."""
    from finr1_verl.data.build import SourceInput
    from finr1_verl.data.distill import DistillConfig, distill
    from finr1_verl.llm import LLMClient

    client = LLMClient(
        url, "deepseek-ai/DeepSeek-R1", max_concurrency=concurrency, timeout_s=60, cache_size=0, seed=None
    )
    config = DistillConfig(out=out, progress=False)
    with RssSampler() as rss:
        cpu, wall = cpu_seconds(), time.perf_counter()
        report = distill([SourceInput("bench", source, {"id": "id"})], client, config)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return wall, cpu, report, rss.samples


def measure(tmp: Path, args: argparse.Namespace, total: int, run) -> tuple[float, float, float, object]:
    """Run ``run(url)`` against a fresh teacher process: (wall s, CPU s, steady in-flight, extra)."""
    server, url, samples_file = start_server(tmp, args)
    try:
        wall, cpu, *extra = run(url)
    finally:
        samples = stop_server(server, samples_file)
    return wall, cpu, steady_concurrency(samples, total), extra


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=2_000, help="questions through distill (k = 1)")
    parser.add_argument("--concurrency", type=int, default=256, help="request slots (the teacher's limit)")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--jitter", type=float, default=0.5)
    parser.add_argument(
        "--baseline-requests",
        type=int,
        default=1_000,
        help="requests for the bare aiohttp and client-only runs",
    )
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve, args.latency, args.jitter, args.concurrency)
        return
    n_base = args.baseline_requests
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        source = tmp / "questions.jsonl"
        write_source(source, args.questions)
        runs = {
            "bare aiohttp": (
                n_base,
                measure(tmp, args, n_base, lambda url: run_baseline(url, n_base, args.concurrency)),
            ),
            "LLMClient": (
                n_base,
                measure(tmp, args, n_base, lambda url: run_client(url, n_base, args.concurrency)),
            ),
            "distill": (
                args.questions,
                measure(
                    tmp,
                    args,
                    args.questions,
                    lambda url: run_pipeline(url, source, tmp / "out", args.concurrency),
                ),
            ),
        }
    from finr1_verl.table import format_table

    report, rss = runs["distill"][1][3]
    ok = sum(s["ok"] for s in report["sources"].values())
    ideal_rate = args.concurrency / args.latency
    names = list(runs)
    rate = {name: n / wall for name, (n, (wall, _, _, _)) in runs.items()}
    cpu_ms = {name: 1000 * cpu / n for name, (n, (_, cpu, _, _)) in runs.items()}
    inflight = {name: conc / args.concurrency for name, (_, (_, _, conc, _)) in runs.items()}
    print(
        f"distill bench: {args.questions:,} questions ({ok:,} traces kept), {args.concurrency} slots, "
        f"latency {args.latency:g} s ± {args.jitter:g} s; baseline runs {n_base:,} requests"
    )
    rows = [
        ["requests/s", *(f"{rate[name]:.1f}" for name in names)],
        ["requests/s / ideal (slots/latency)", *(f"{rate[name] / ideal_rate:.1%}" for name in names)],
        ["steady in-flight / limit", *(f"{inflight[name]:.1%}" for name in names)],
        ["client CPU ms / request", *(f"{cpu_ms[name]:.3f}" for name in names)],
        ["CPU ratio to bare aiohttp", *(f"{cpu_ms[name] / cpu_ms[names[0]]:.2f}" for name in names)],
    ]
    print(format_table(["", *names], rows))
    print(
        f"distill's own CPU on top of the client: {cpu_ms['distill'] - cpu_ms['LLMClient']:.3f} ms / request"
    )
    quarter = rss[len(rss) // 4 :] or rss
    print(
        f"distill RSS MiB first / at 25% / max / last: {rss[0]:.0f} / {quarter[0]:.0f} / {max(rss):.0f} / {rss[-1]:.0f} "
        f"(growth after the first quarter {max(quarter) - quarter[0]:+.1f} MiB)"
    )
    steady_rate = inflight["distill"] * ideal_rate  # Little's law: requests in flight / latency
    print(
        f"projected wall time for {FULL_RUN:,} questions: {FULL_RUN / steady_rate / 60:.1f} min at the steady "
        f"distill rate ({steady_rate:.0f} req/s), {FULL_RUN / ideal_rate / 60:.1f} min at the slot limit "
        f"(k samples: x k; n endpoints: / n)"
    )


if __name__ == "__main__":
    main()
