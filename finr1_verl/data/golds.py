"""Gold consistency: a row's readings must agree with each other under the reward's own rules.

FinQA and ConvFinQA carry two readings of one gold: the human answer (``"14.1%"``) and the value
the annotated program executes to (``0.14136``).  Both go into the row's ground truth so that
either form scores - which is right only when they are the same answer.  Upstream annotation
noise makes some pairs disagree far beyond rounding (``"9.6%"`` vs ``0.0001``, ``"197000"`` vs
``19700``); keeping both would reward a wrong value.  When the reward's rules
(:func:`finr1_verl.reward.match.rule_verdict`, both ways round) do not find the two EQUAL, the row
keeps only the reading its upstream treats as authoritative and the other is reported:

* FinQA - the executed answer ``qa.exe_ans``: FinQA's evaluation scores execution accuracy
  against it (czyssrs/FinQA, ``code/evaluate/evaluate.py``);
* ConvFinQA - the executed answer of the turn (``exe_ans_list`` / ``exe_ans``), which its
  evaluation scores the same way (czyssrs/ConvFinQA README, "Leaderboard": programs are executed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from finr1_verl.data.records import Example
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.match import Verdict, rule_verdict

CONFLICTING_READINGS = "conflicting_readings"
# Which reading each two-reading source trusts when its readings disagree.
AUTHORITATIVE = {"finqa": "executed", "convfinqa": "executed"}


@dataclass(frozen=True)
class Conflict:
    kept: str
    dropped: str
    authority: str

    def detail(self) -> str:
        return f"kept {self.authority} reading {self.kept!r}, dropped {self.dropped!r}: not rule-EQUAL"


def readings_agree(first: str, second: str) -> bool:
    """True when each reading is rule-EQUAL to the other (the reward's verdict, both ways round)."""
    return all(
        rule_verdict(candidate, gold, classify_answer(gold, {})) is Verdict.EQUAL
        for candidate, gold in ((first, second), (second, first))
    )


def reconcile(example: Example) -> tuple[Example, Conflict | None]:
    """The example with readings that agree, and the conflict that was resolved (None if there was none)."""
    executed = str(example.meta.get("executed_answer") or "")
    if not executed or executed == example.answer or readings_agree(example.answer, executed):
        return example, None
    authority = AUTHORITATIVE.get(example.source, "executed")
    kept, dropped = (executed, example.answer) if authority == "executed" else (example.answer, executed)
    meta = {key: value for key, value in example.meta.items() if key != "executed_answer"}
    fixed = replace(example, answer=kept, answer_type=classify_answer(kept, {}), meta=meta)
    return fixed, Conflict(kept, dropped, authority)
