"""The reward's rules on labelled outputs of real models (``tests/fixtures/real_outputs/``).

Each raw output is wrapped as a Fin-R1 policy emits it (``policy_response``) and goes through the
rule path in ``rule_first`` (format, extraction, hack guard, rule verdict; no judge is called).
Per source file, per part of the split (``tune`` / ``heldout``) and per answer kind (numeric or
not), printed: of the answers the source labels correct, the share rule-EQUAL, UNDECIDED (sent to
the judge) and zeroed with no judge call (DIFFERENT, guarded or no answer found); of the answers it
labels wrong, the share rule-EQUAL; and judge calls as a share of all samples.

    python bench/bench_real_outputs.py [--misjudged] [--json out.json]

``--misjudged`` lists every correct answer zeroed and every wrong answer rule-EQUAL, for review.
The columns marked ``*`` leave out the records ``reviewed.json`` reads as the source's own error
(``label_noise``, ``gold_error``): what the rules get wrong against a correct label.
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
HEADER = (
    "source",
    "part",
    "kind",
    "n",
    "correct",
    "c EQUAL",
    "c UNDEC",
    "c zeroed",
    "c zeroed*",
    "wrong",
    "w EQUAL",
    "w EQUAL*",
    "judge",
)
# Readings of reviewed.json that say the source's label, not the rules, is wrong.
SOURCE_ERRORS = frozenset({"label_noise", "gold_error"})


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else ""


def source_errors(corpus: Path) -> set[tuple[str, str, str]]:
    """(file, model, question_id) of the records reviewed.json reads as the source's own error."""
    reviewed = json.loads((corpus / "reviewed.json").read_text(encoding="utf-8"))
    return {
        (entry["file"], entry["model"], entry["question_id"])
        for entry in reviewed["records"]
        if entry["reading"] in SOURCE_ERRORS
    }


def summary(judged: list[Judged], noisy: set[tuple[str, str]] = frozenset()) -> dict[str, int]:
    """The figures of one table row; ``noisy`` holds (model, question_id) of the source's own errors."""
    right = Counter(j.outcome for j in judged if j.record.correct)
    wrong = Counter(j.outcome for j in judged if not j.record.correct)
    clean = [j for j in judged if (j.record.model, j.record.question_id) not in noisy]
    return {
        "correct_zeroed_clean": sum(j.record.correct and j.outcome in ZEROED for j in clean),
        "wrong_equal_clean": sum(not j.record.correct and j.outcome == "equal" for j in clean),
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
        _share(s["correct_zeroed_clean"], s["correct"]),
        s["wrong"],
        _share(s["wrong_equal"], s["wrong"]),
        _share(s["wrong_equal_clean"], s["wrong"]),
        _share(s["judge_calls"], s["n"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--misjudged", action="store_true", help="list the misjudged records")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rows, figures, misjudged = [], {}, []
    noisy = source_errors(args.corpus)
    for name, records in load_corpus(args.corpus).items():
        judged = [rule_outcome(record) for record in records]
        in_file = {(model, question_id) for file, model, question_id in noisy if file == name}
        for part in ("tune", "heldout"):
            in_part = [j for j in judged if j.record.part == part]
            for kind in ("numeric", "other", "all"):
                chosen = [
                    j for j in in_part if kind == "all" or (j.answer_type == "numeric") == (kind == "numeric")
                ]
                if chosen:
                    figures[f"{name}/{part}/{kind}"] = s = summary(chosen, in_file)
                    rows.append(row(name, part, kind, s))
        misjudged += [(name, j) for j in judged if j.misjudged]
    print(format_table(HEADER, rows))
    print(
        "c = answers the source labels correct, w = labelled wrong; zeroed = DIFFERENT, guarded or no answer;"
    )
    print("* = less the records reviewed.json reads as the source's own error (label_noise, gold_error)")
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
