"""The reward's rules on labelled outputs of real models (``tests/fixtures/real_outputs/``).

Each raw output is wrapped as a Fin-R1 policy emits it (``policy_response``) and goes through the
rule path in ``rule_first`` (format, extraction, hack guard, rule verdict; no judge is called).
Per source file, per part of the split (``tune`` / ``heldout``) and per answer kind (numeric or
not), printed: of the answers the source labels correct, the share rule-EQUAL, UNDECIDED (sent to
the judge) and zeroed with no judge call (DIFFERENT, guarded or no answer found); of the answers it
labels wrong, the share rule-EQUAL; and judge calls as a share of all samples.

    python bench/bench_real_outputs.py [--misjudged] [--json out.json]

``--misjudged`` lists every correct answer zeroed and every wrong answer rule-EQUAL, for review.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from finr1_verl.reward.real_outputs import ZEROED, Judged, load_corpus, rule_outcome  # noqa: E402
from finr1_verl.table import format_table  # noqa: E402

CORPUS = REPO_ROOT / "tests" / "fixtures" / "real_outputs"
HEADER = ("source", "part", "kind", "n", "correct", "c EQUAL", "c UNDEC", "c zeroed", "wrong", "w EQUAL", "judge")


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else ""


def summary(judged: list[Judged]) -> dict[str, int]:
    right = Counter(j.outcome for j in judged if j.record.correct)
    wrong = Counter(j.outcome for j in judged if not j.record.correct)
    return {
        "n": len(judged),
        "correct": sum(right.values()),
        "correct_equal": right["equal"],
        "correct_undecided": right["undecided"],
        "correct_zeroed": sum(right[o] for o in ZEROED),
        "wrong": sum(wrong.values()),
        "wrong_equal": wrong["equal"],
        "judge_calls": sum(j.needs_judge for j in judged),
    }


def row(name: str, part: str, kind: str, s: dict[str, int]) -> list[str | int]:
    return [
        name,
        part,
        kind,
        s["n"],
        s["correct"],
        _share(s["correct_equal"], s["correct"]),
        _share(s["correct_undecided"], s["correct"]),
        _share(s["correct_zeroed"], s["correct"]),
        s["wrong"],
        _share(s["wrong_equal"], s["wrong"]),
        _share(s["judge_calls"], s["n"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--misjudged", action="store_true", help="list the misjudged records")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rows, figures, misjudged = [], {}, []
    for name, records in load_corpus(args.corpus).items():
        judged = [rule_outcome(record) for record in records]
        for part in ("tune", "heldout"):
            in_part = [j for j in judged if j.record.part == part]
            for kind in ("numeric", "other", "all"):
                chosen = [j for j in in_part if kind == "all" or (j.answer_type == "numeric") == (kind == "numeric")]
                if chosen:
                    figures[f"{name}/{part}/{kind}"] = s = summary(chosen)
                    rows.append(row(name, part, kind, s))
        misjudged += [
            (name, j)
            for j in judged
            if (j.record.correct and j.outcome in ZEROED) or (not j.record.correct and j.outcome == "equal")
        ]
    print(format_table(HEADER, rows))
    print("c = answers the source labels correct, w = labelled wrong; zeroed = DIFFERENT, guarded or no answer")
    if args.misjudged:
        for name, j in misjudged:
            print(
                json.dumps(
                    {
                        "file": name,
                        "model": j.record.model,
                        "question_id": j.record.question_id,
                        "part": j.record.part,
                        "label": j.record.label,
                        "outcome": j.outcome,
                        "guard": j.guard,
                        "gold": j.record.gold,
                        "answer": j.answer,
                    },
                    ensure_ascii=False,
                )
            )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
