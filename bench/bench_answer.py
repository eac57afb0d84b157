"""Speed and accuracy of the rule-based answer check against math-verify, on real financial pairs.

Each labelled pair (``tests/fixtures/answer/pairs.py``: ConvFinQA human answer vs executed value
both ways, mismatched ConvFinQA pairs, FinQA answers in other notations and wrong variants) becomes
a Fin-R1 response ``<think>…</think><answer>\\boxed{candidate}</answer>`` and its ground truth.

* ours: ``check_format`` + ``extract_answer`` + ``rule_verdict`` (EQUAL counts as a match), once
  with the number-parse cache emptied before every pair (cold: every string parsed afresh) and once
  warm (as in a GRPO group, where many responses share one ground truth);
* baseline, measured in the same run: ``math_verify.parse(response)``, ``parse("\\boxed{gold}")``
  and ``verify`` (math-verify 0.9.0 defaults, as verl's math-verify reward uses it).

Prints the median/p90 µs per pair and the agreement with the expected labels for both, per pair
group and overall, and the speed ratio (target: ours >= 50x faster with equal or better agreement).

    python bench/bench_answer.py [--limit N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.shared_data import real_data  # noqa: E402
from finr1_verl.reward.answer import extract_answer  # noqa: E402
from finr1_verl.reward.format import check_format  # noqa: E402
from finr1_verl.reward.match import Verdict, rule_verdict  # noqa: E402
from finr1_verl.reward.numbers import clear_number_cache  # noqa: E402
from finr1_verl.table import format_table  # noqa: E402
from tests.fixtures.answer.pairs import Pair, convfinqa_pairs, finqa_pairs, mismatched_pairs  # noqa: E402


def load_pairs(limit: int | None) -> list[Pair]:
    convfinqa = real_data("convfinqa", "convfinqa_dev_part1.json")
    finqa = real_data("finqa", "finqa_test_first100.json")
    pairs = convfinqa_pairs(convfinqa) + mismatched_pairs(convfinqa) + finqa_pairs(finqa)
    return pairs[:limit] if limit else pairs


def response_for(candidate: str) -> str:
    return f"<think>\nLet me compute the value from the table.\n</think>\n<answer>\n\\boxed{{{candidate}}}\n</answer>"


def ours(response: str, gold: str) -> bool:
    check_format(response)
    return rule_verdict(extract_answer(response), gold) is Verdict.EQUAL


def math_verify_baseline(response: str, gold: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse("\\boxed{" + gold + "}"), parse(response)))


def measure(
    check: Callable[[str, str], bool], pairs: list[Pair], reset: Callable[[], None] | None = None
) -> tuple[list[float], list[bool]]:
    """Microseconds per pair and the match decision for each pair; ``reset`` runs untimed before each."""
    check(response_for(pairs[0].candidate), pairs[0].gold)
    times, decisions = [], []
    for pair in pairs:
        response = response_for(pair.candidate)
        if reset is not None:
            reset()
        start = time.perf_counter()
        decisions.append(check(response, pair.gold))
        times.append((time.perf_counter() - start) * 1e6)
    return times, decisions


def _group(pair: Pair) -> str:
    kind = pair.origin.split(":")[0]
    return f"{kind}:{pair.origin.rsplit(':', 1)[1]}" if kind == "finqa" else kind


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def report(pairs: list[Pair], results: dict[str, tuple[list[float], list[bool]]]) -> None:
    groups = sorted({_group(pair) for pair in pairs})
    header = ["group", "pairs", *(f"{name} agree" for name in results), *(f"{name} %" for name in results)]
    rows = []
    for group in [*groups, "all"]:
        indices = [i for i, pair in enumerate(pairs) if group in ("all", _group(pair))]
        agree = [sum(decisions[i] == pairs[i].equal for i in indices) for _, decisions in results.values()]
        rows.append([group, len(indices), *agree, *(f"{n / len(indices):.2%}" for n in agree)])
    print(format_table(header, rows))
    rows = [
        [name, f"{statistics.median(times):.1f}", f"{_p90(times):.1f}", f"{sum(times) / 1e6:.2f}"]
        for name, (times, _) in results.items()
    ]
    print()
    print(format_table(["checker", "median µs", "p90 µs", "total s"], rows))
    baseline = statistics.median(results["math-verify"][0])
    for name in ("ours-cold", "ours-warm"):
        print(
            f"speed ratio math-verify / {name} (medians): {baseline / statistics.median(results[name][0]):.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    pairs = load_pairs(args.limit)
    print(f"{len(pairs)} labelled pairs ({sum(p.equal for p in pairs)} expected EQUAL)\n")
    results = {
        "ours-cold": measure(ours, pairs, reset=clear_number_cache),
        "ours-warm": measure(ours, pairs),
        "math-verify": measure(math_verify_baseline, pairs),
    }
    report(pairs, results)


if __name__ == "__main__":
    main()
