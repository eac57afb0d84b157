"""Labelled outputs of real models on financial QA, and how the reward is tried on them.

A corpus file is JSON Lines, one file per source, each record with exactly :data:`FIELDS`:
``source`` (the upstream repository and subset), ``model``, ``question_id``, ``gold`` (the source's
gold answer as one string), ``output`` (the model's raw text) and ``label`` (``correct`` or
``incorrect``: the source's own judgement, never the reward's).

* :func:`part_of` - the one split of every source into a ``tune`` part (rules may be chosen on it)
  and a ``heldout`` part (only reported): by a hash of the question id, so every model's answer to
  one question falls in the same part, in every source that asks it.
* :func:`policy_response` - a raw output wrapped as a Fin-R1 policy emits it: the output as the
  reasoning, and its final answer (the reward's own lenient extraction for untagged models) in the
  answer block; an output already in the Fin-R1 format is kept as it is.
* :func:`load_corpus` - every file of a folder, checked: a bad record raises naming the file, the
  line and the field.
* :func:`rule_outcome` - what the rules make of one record's wrapped response in ``rule_first``:
  one of :data:`OUTCOMES`, and whether the judge would be called.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from finr1_verl.reward.answer import extract_answer
from finr1_verl.reward.format import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    check_format,
    render_response,
    strip_stop_tokens,
)
from finr1_verl.reward.match import Verdict
from finr1_verl.reward.score import ScoreSettings, assess_rules, read_sample

FIELDS = ("source", "model", "question_id", "gold", "output", "label")
LABELS = ("correct", "incorrect")
PARTS = ("tune", "heldout")


def part_of(question_id: str) -> str:
    """``tune`` or ``heldout``: the parity of the first byte of the SHA-256 of the question id."""
    return PARTS[hashlib.sha256(question_id.encode("utf-8")).digest()[0] % 2]


def policy_response(output: str) -> str:
    """``output`` as a Fin-R1 response: the whole output as reasoning, its final answer in ``<answer>``.

    An output already in the Fin-R1 format (a reasoning model's own ``<think>``/``<answer>`` tags) is kept
    as it is; one with only some of the tags ("<think>…</think> The answer is 10.") is wrapped with its tags
    taken out of the reasoning, so that they do not read as forged tags.
    """
    text = strip_stop_tokens(output.strip()).strip()
    if check_format(text):
        return text
    answer = extract_answer(text, lenient=True) or text
    reasoning = text
    for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE):
        reasoning, answer = reasoning.replace(tag, "\n"), answer.replace(tag, " ")
    return render_response(reasoning.strip(), answer.strip() or reasoning.strip())


@dataclass(frozen=True)
class RealOutput:
    source: str
    model: str
    question_id: str
    gold: str
    output: str
    label: str

    @property
    def correct(self) -> bool:
        return self.label == "correct"

    @property
    def part(self) -> str:
        return part_of(self.question_id)


class CorpusError(ValueError):
    """A corpus record that is not usable, with the file, line and field."""


def _record(path: Path, line_no: int, line: str) -> RealOutput:
    where = f"{path.name}:{line_no}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: a record must be a JSON object, got {type(raw).__name__}")
    if set(raw) != set(FIELDS):
        missing, extra = sorted(set(FIELDS) - set(raw)), sorted(set(raw) - set(FIELDS))
        raise CorpusError(f"{where}: fields must be {FIELDS}; missing {missing}, unexpected {extra}")
    for field in FIELDS:
        if not isinstance(raw[field], str) or not raw[field].strip():
            raise CorpusError(f"{where}: field {field!r} must be a non-empty string, got {raw[field]!r}")
    if raw["label"] not in LABELS:
        raise CorpusError(f"{where}: field 'label' must be one of {LABELS}, got {raw['label']!r}")
    return RealOutput(**raw)


def load_file(path: Path) -> list[RealOutput]:
    """The records of one corpus file (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        return [_record(path, n, line) for n, line in enumerate(handle, 1) if line.strip()]


def load_corpus(directory: Path) -> dict[str, list[RealOutput]]:
    """Every ``*.jsonl`` file of ``directory`` by file stem, in name order."""
    files = sorted(Path(directory).glob("*.jsonl"))
    if not files:
        raise CorpusError(f"{directory}: no *.jsonl corpus files")
    return {path.stem: load_file(path) for path in files}


# What the rules make of one answer, before any judge.
OUTCOMES = ("equal", "undecided", "different", "guarded", "no_answer")
# The outcomes that score 0 with no judge call in ``rule_first``.
ZEROED = ("different", "guarded", "no_answer")


@dataclass(frozen=True)
class Judged:
    """One record through the reward's rule path (``rule_first``)."""

    record: RealOutput
    outcome: str  # one of OUTCOMES
    answer: str | None
    guard: str | None
    answer_type: str
    needs_judge: bool

    @property
    def misjudged(self) -> bool:
        """A correct answer zeroed with no judge call, or a wrong answer rule-EQUAL."""
        return self.outcome in ZEROED if self.record.correct else self.outcome == "equal"


def rule_outcome(record: RealOutput, settings: ScoreSettings | None = None) -> Judged:
    """``record``'s wrapped response (:func:`policy_response`) through :func:`assess_rules` in ``rule_first``."""
    settings = settings or ScoreSettings(mode="rule_first")
    sample = read_sample("real_outputs", record.gold, {"id": record.question_id})
    assessment = assess_rules(policy_response(record.output), sample, settings)
    if assessment.answer is None:
        outcome = "no_answer"
    elif assessment.guard is not None:
        outcome = "guarded"
    else:
        outcome = {Verdict.EQUAL: "equal", Verdict.UNDECIDED: "undecided"}.get(
            assessment.verdict, "different"
        )
    return Judged(
        record, outcome, assessment.answer, assessment.guard, sample.answer_type, assessment.needs_judge
    )
