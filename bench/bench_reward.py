"""Reward throughput on a GRPO-shaped batch: genrm_remote-style baseline vs. this project's reward.

A batch of 128 prompts x 8 samples is built from real FinQA, ConvFinQA, TFNS and FinanceIQ rows
(``../shared/data``, through the project's own parsers and RL-row builder).  Each group's answers
are drawn from a realistic mix — right as written, right in another notation, wrong, malformed,
unit-laden answers that rules cannot settle — with duplicates inside a group, as GRPO produces.

Every configuration scores the same batch against one loopback judge that answers in ``--latency``
seconds and serves ``--slots`` requests at a time (more wait in its queue, as vLLM's scheduler
does):

  (a) baseline shaped like verl-recipe's genrm_remote: judge every sample with the whole solution,
      a new HTTP session per request, no timeout, no concurrency cap, blocking ``time.sleep`` retry;
  (b) this project's reward judging every answer (``mode=always``): shared client, cap, dedup;
  (c) this project's default ``rule_first`` reward.

Printed per configuration: wall time, judge calls, event-loop lag p99 (a probe coroutine in the
same loop), and the physical limit ceil(calls / slots) x latency.  ``--fault-every N`` makes every
N-th judge request a 503 with Retry-After: 1, to show what a blocking retry sleep costs.

Run: ``python bench/bench_reward.py`` (about 15 s; ``--json out.json`` keeps the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import random
import re
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shared_data import real_data  # noqa: E402
from finr1_verl.data.rows import rl_row  # noqa: E402
from finr1_verl.data.sources import parser_for  # noqa: E402
from finr1_verl.reward import compute_score  # noqa: E402
from finr1_verl.reward.score import (  # noqa: E402
    ScoreSettings,
    assess_rules,
    close_judges,
    judge_stats,
    read_sample,
)
from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply  # noqa: E402
from finr1_verl.table import format_table  # noqa: E402

SOURCES = {
    "finqa": "finqa/finqa_test_first100.json",
    "convfinqa": "convfinqa/convfinqa_dev_part1.json",
    "tfns": "tfns/sent_valid.csv",
    "financeiq": "financeiq/dev",
}
LABEL_NAMES = {"0": "Bearish", "1": "Bullish", "2": "Neutral"}


# --- the judge server (its own process, as a real judge is) ------------------------------------
def judge_responder(latency: float, truth: dict[tuple[str, str], bool], fault_every: int):
    """Verdicts from the batch's ground truth; every ``fault_every``-th request a 503 + Retry-After."""
    count = 0

    def verdict(body: dict) -> Reply:
        nonlocal count
        count += 1
        if fault_every and count % fault_every == 0:
            return Reply(status=503, headers={"Retry-After": "1"}, delay=latency)
        user = body["messages"][-1]["content"]
        match = re.search(
            r"<reference_answer>\n(.*?)\n.*?<candidate_answer>\n(.*?)\n</candidate_answer>", user, re.S
        )
        if match:
            equal = truth.get((match.group(1), match.group(2)), False)
        else:  # the baseline's prompt: "reference: X\nsolution: Y"
            ref, _, sol = user.partition("\nsolution: ")
            equal = truth.get((ref.removeprefix("reference: "), sol), False)
        return Reply(content="\\boxed{1}" if equal else "\\boxed{0}", delay=latency)

    return verdict


def _serve(conn, slots: int, latency: float, truth: dict, fault_every: int) -> None:
    """Child process: run the judge and answer "url" / "reset" / "calls" / "stop" over a pipe."""
    responder = judge_responder(latency, truth, fault_every)
    server = FakeOpenAIServer(model="bench-judge", responder=responder, slots=slots).start()
    conn.send(server.base_url)
    while (command := conn.recv()) != "stop":
        if command == "reset":
            server.reset()
            conn.send(None)
        elif command == "calls":
            conn.send(len(server.requests))
    server.stop()


class JudgeProcess:
    """Handle on the judge running in a child process."""

    def __init__(self, slots: int, latency: float, truth: dict, fault_every: int):
        self.slots, self.latency = slots, latency
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, slots, latency, truth, fault_every), daemon=True
        )
        self._proc.start()
        self.base_url = self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def calls(self) -> int:
        self._conn.send("calls")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)


# --- the batch -------------------------------------------------------------------------------
def load_rows(per_source: int, rng: random.Random) -> list[dict]:
    rows = []
    for name, rel in SOURCES.items():
        path = real_data(rel)
        examples = [e for e in parser_for(name)(path) if hasattr(e, "answer")]
        for example in rng.sample(examples, per_source):
            rows.append(rl_row(example, len(rows), "train"))
    return rows


def wrap(answer: str) -> str:
    return f"<think>\nRead the table, take the two values, compute the change.\n</think>\n<answer>\n{answer}\n</answer>"


def variants(row: dict, rng: random.Random) -> dict[str, list[str]]:
    """Candidate final answers by kind for one row: right, right in another notation, wrong, unit-laden."""
    gold = row["reward_model"]["ground_truth"][0]
    kind = row["extra_info"]["answer_type"]
    if kind == "label":
        others = [v for k, v in LABEL_NAMES.items() if k != gold]
        return {
            "right": [gold],
            "notation": [LABEL_NAMES[gold]],
            "wrong": others,
            "units": [LABEL_NAMES[gold]],
        }
    if kind == "choice":
        choices = json.loads(row["extra_info"]["choices"])
        wrong = [k for k in choices if k not in gold] or ["E"]
        first = gold[0]
        return {
            "right": [gold],
            "notation": [f"{first}. {choices.get(first, '')}"],
            "wrong": wrong,
            "units": [gold],
        }
    if kind == "numeric":
        number = re.sub(r"[^0-9.\-]", "", gold)
        try:
            value = float(number)
        except ValueError:
            return {"right": [gold], "notation": [gold], "wrong": ["0"], "units": [gold]}
        pct = gold.strip().endswith("%")
        notation = f"{value / 100:.4f}" if pct else f"{value:,.2f}"
        wrong = f"{value * 1.3 + 1:.2f}" + ("%" if pct else "")
        units = f"{number} million" if not pct else f"{number} percent points"
        return {"right": [gold], "notation": [notation], "wrong": [wrong], "units": [units]}
    return {"right": [gold], "notation": [gold], "wrong": ["no"], "units": [gold]}


MIX = [("right", 0.30), ("notation", 0.20), ("wrong", 0.25), ("malformed", 0.15), ("units", 0.10)]


def build_batch(rows: list[dict], samples: int, rng: random.Random):
    """GRPO groups: each group draws from a pool of 3 answers, so answers repeat inside a group."""
    batch, truth = [], {}
    kinds, weights = zip(*MIX, strict=True)
    for row in rows:
        options = variants(row, rng)
        pool = []
        for kind in rng.choices(kinds, weights, k=3):
            if kind == "malformed":
                pool.append(
                    ("malformed", rng.choice(["The answer is 5", "<think>\nstill thinking", wrap("")]))
                )
            else:
                pool.append((kind, wrap(f"\\boxed{{{rng.choice(options[kind])}}}")))
        for _ in range(samples):
            kind, text = rng.choice(pool)
            batch.append((row, text))
            answer = text.split("\\boxed{")[-1].rsplit("}", 1)[0] if "\\boxed{" in text else ""
            reference = row["reward_model"]["ground_truth"][0]
            right = kind in ("right", "notation", "units")
            truth[(reference, answer)] = right
            truth[(reference, text)] = right
    return batch, truth


# --- loop lag probe --------------------------------------------------------------------------
class LagProbe:
    """Measures how late a 5 ms sleep wakes up in the scoring loop (blocking work shows as lag)."""

    def __init__(self, period: float = 0.005):
        self.period, self.lags, self._task = period, [], None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - start - self.period)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        self._task.cancel()
        return statistics.quantiles(self.lags, n=100)[98] if len(self.lags) >= 2 else float("nan")


# --- the three reward configurations ------------------------------------------------------------
async def genrm_remote_style(url: str, row: dict, solution: str, retries: int = 3) -> float:
    """The baseline: whole solution to the judge, a new session per request, blocking retry sleep."""
    reference = row["reward_model"]["ground_truth"][0]
    payload = {
        "model": "bench-judge",
        "messages": [{"role": "user", "content": f"reference: {reference}\nsolution: {solution}"}],
        "temperature": 0,
    }
    for _ in range(retries):
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{url}/chat/completions", json=payload) as resp,
            ):
                resp.raise_for_status()
                content = (await resp.json())["choices"][0]["message"]["content"]
            return float(content.strip() == "\\boxed{1}")
        except aiohttp.ClientError:
            time.sleep(1.0)  # noqa: ASYNC251 - the blocking sleep is what this baseline reproduces
    return 0.0


async def run_config(name: str, server: JudgeProcess, batch, kwargs: dict | None) -> dict:
    server.reset()
    await close_judges()
    gc.collect()
    pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif info["generation"] == 2:
            pauses.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)
    probe = LagProbe()
    probe.start()
    started = time.perf_counter()
    if kwargs is None:
        coros = [genrm_remote_style(server.base_url, row, text) for row, text in batch]
    else:
        coros = [
            compute_score(
                row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"], **kwargs
            )
            for row, text in batch
        ]
    results = []
    with tqdm(total=len(coros), desc=name, leave=False) as bar:
        for fut in asyncio.as_completed(coros):
            results.append(await fut)
            bar.update()
    wall = time.perf_counter() - started
    lag_p99 = await probe.stop()
    gc.callbacks.remove(on_gc)
    await close_judges()
    calls = server.calls()
    physical = math.ceil(calls / server.slots) * server.latency
    judge_errors = sum(r["judge_error"] for r in results if isinstance(r, dict))
    stats = next(iter(judge_stats().values()), {}) if kwargs is not None else {}
    return {
        "config": name,
        "wall_s": wall,
        "judge_calls": calls,
        "calls_pct": 100 * calls / len(batch),
        "physical_s": physical,
        "wall_over_physical": wall / physical if physical else float("nan"),
        "lag_p99_ms": 1000 * lag_p99,
        "judge_errors": judge_errors,
        "dedup_or_cache_hits": stats.get("dedup_hits", 0) + stats.get("cache_hits", 0),
        "retries": stats.get("retries", 0),
        "gc2_pause_max_ms": 1000 * max(pauses, default=0.0),
        "rules_cpu_s": 0.0,
    }


def rules_cpu_seconds(batch, kwargs: dict) -> float:
    """Time to run format, extraction, guard and rules over the batch in one thread: the CPU floor."""
    settings = ScoreSettings.from_kwargs(kwargs)
    started = time.perf_counter()
    for row, text in batch:
        sample = read_sample(row["data_source"], row["reward_model"]["ground_truth"], row["extra_info"])
        assess_rules(text, sample, settings)
    return time.perf_counter() - started


def print_table(title: str, rows: list[dict]) -> None:
    base = rows[0]["wall_s"]
    header = ["config", "wall s", "judge calls", "% samples", "physical s", "wall/phys", "wall/(phys+cpu)"]
    header += ["vs (a)", "lag p99 ms", "full-GC ms"]
    lines = [
        [
            r["config"],
            f"{r['wall_s']:.2f}",
            r["judge_calls"],
            f"{r['calls_pct']:.1f}",
            f"{r['physical_s']:.2f}",
            f"{r['wall_over_physical']:.2f}x",
            f"{r['wall_s'] / (r['physical_s'] + r['rules_cpu_s']):.2f}x",
            f"{base / r['wall_s']:.1f}x",
            f"{r['lag_p99_ms']:.1f}",
            f"{r['gc2_pause_max_ms']:.0f}",
        ]
        for r in rows
    ]
    print(f"\n{title}")
    print(format_table(header, lines))


async def main_async(args: argparse.Namespace) -> list[dict]:
    rng = random.Random(args.seed)
    rows = load_rows(args.prompts // len(SOURCES), rng)
    batch, truth = build_batch(rows, args.samples, rng)
    kwargs = {"judge_model": "bench-judge", "max_concurrency": args.slots, "timeout": 60}
    scenarios = [("no faults", 0)] + (
        [(f"every {args.fault_every}th judge request a 503", args.fault_every)] if args.fault_every else []
    )
    report = []
    for title, fault_every in scenarios:
        server = JudgeProcess(args.slots, args.latency, truth, fault_every)
        try:
            kw = dict(kwargs, judge_urls=server.base_url)
            # Warm-up on a slice of the batch: first-use costs (lazy imports, model classes, TLS
            # context) are paid once per process and are not what this compares.
            for warm_kwargs in (None, dict(kw, mode="always")):
                await run_config("warm-up", server, batch[:64], warm_kwargs)
            rows_out = [
                await run_config("(a) genrm_remote-style", server, batch, None),
                await run_config("(b) ours, judge all", server, batch, dict(kw, mode="always")),
                await run_config("(c) ours, rule_first", server, batch, dict(kw, mode="rule_first")),
            ]
            cpu = rules_cpu_seconds(batch, dict(kw, mode="never"))
            for r in rows_out[1:]:
                r["rules_cpu_s"] = cpu
        finally:
            server.stop()
        print(f"format + extraction + guard + rules over the batch, one thread: {cpu:.3f} s (cpu)")
        print_table(
            f"{len(batch)} responses ({args.prompts} prompts x {args.samples}), judge {args.latency * 1000:.0f} ms, "
            f"{args.slots} slots, {title}",
            rows_out,
        )
        report.append({"scenario": title, "results": rows_out})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--fault-every", type=int, default=100, help="0 disables the fault scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "report": report}, indent=2)
        )


if __name__ == "__main__":
    main()
