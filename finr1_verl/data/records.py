"""The one internal record type that every source parser produces.

A parser turns an upstream record into an :class:`Example`; everything downstream (RL/SFT rows,
distillation, filtering, evaluation) reads only this type.  Answer types decide how answers are
compared by :mod:`finr1_verl.reward.match`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnswerType = Literal["numeric", "choice", "label", "boolean", "text"]
ANSWER_TYPES: tuple[str, ...] = ("numeric", "choice", "label", "boolean", "text")
# Answer types that rules can check exactly: Fin-R1 calls these "objective" questions.
OBJECTIVE_TYPES: frozenset[str] = frozenset({"numeric", "choice", "label", "boolean"})


class RecordError(ValueError):
    """A bad input record: names the file, the record (line or index) and the field."""

    def __init__(self, file: str, record: str | int, field: str, reason: str):
        self.file, self.record, self.field, self.reason = str(file), record, field, reason
        super().__init__(f"{file}: record {record}: field {field!r}: {reason}")


@dataclass(frozen=True)
class Example:
    """One question with its reference answer, as parsed from a source.

    ``answer`` is the reference as the dataset writes it (human string); ``meta`` carries
    source-specific extras (e.g. ``executed_answer`` for FinQA/ConvFinQA, ``thinking`` for
    records that come with a reasoning trace, ``history`` for conversation turns).
    """

    source: str
    id: str
    question: str
    answer: str
    answer_type: AnswerType
    split: str = "train"
    context: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(f"{self.source}/{self.id}: unknown answer_type {self.answer_type!r}")

    @property
    def is_objective(self) -> bool:
        return self.answer_type in OBJECTIVE_TYPES
