"""Worst-case time per call of the reward's rule path, on pathological responses.

Every family of :func:`finr1_verl.reward.corpus.slow_families` (blank lines, whitespace runs, nested
and unclosed braces, digit runs, repeated separators, role lines, answer cues, …) goes through
``assess_rules`` (format, extraction, hack guard, rule verdict) with cold caches, in strict and
lenient mode, for a numeric and a choice row.  The baseline, measured in the same run, is a plain
response of the same size (long reasoning, short boxed answer).

Prints each family's best-of-N time, its ratio to the baseline and the worst family's absolute time
(target: <= 5 ms per call, <= 50x the plain response).

    python bench/bench_reward_worst.py [--size 16384] [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from finr1_verl.reward.corpus import TIMING_ROWS, cold_rule_seconds, plain_response, slow_families  # noqa: E402
from finr1_verl.reward.score import ScoreSettings, read_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    worst = (0.0, "", "", 0.0)
    print(f"{'row/mode':18} {'family':34} {'ms':>8} {'x plain':>8}")
    for row, (gold, info) in TIMING_ROWS.items():
        sample = read_sample("finr1/bench", gold, info)
        for lenient in (False, True):
            settings = ScoreSettings(mode="never", lenient=lenient)
            label = f"{row}/{'lenient' if lenient else 'strict'}"
            baseline = cold_rule_seconds(plain_response(args.size), sample, settings, args.repeats * 3)
            print(f"{label:18} {'(plain response)':34} {baseline * 1e3:8.3f} {1.0:8.1f}")
            for family, text in slow_families(args.size).items():
                seconds = cold_rule_seconds(text, sample, settings, args.repeats)
                print(f"{label:18} {family:34} {seconds * 1e3:8.3f} {seconds / baseline:8.1f}")
                if seconds > worst[0]:
                    worst = (seconds, label, family, seconds / baseline)
    seconds, label, family, ratio = worst
    print(
        f"\nworst: {label} {family}: {seconds * 1e3:.3f} ms per call ({ratio:.1f}x the plain response; "
        f"target <= 5 ms and <= 50x)"
    )


if __name__ == "__main__":
    main()
