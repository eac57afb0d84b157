"""Decontamination: training records that share a report page or question text with an evaluation item.

``finr1-eval select`` writes, for every selected item, its id, question text and document key
(``extra_info.document``: the report page of FinQA, ConvFinQA and TAT-QA items); ``finr1-data
prepare|distill --exclude-from items.json`` drops, in this order (the first rule that holds names
the reject reason):

- ``excluded_id``: the evaluation item itself (``source/id``), as ``--exclude-ids`` does;
- ``eval_document``: any record on a document of an evaluation item.  ConvFinQA's conversations are
  built on FinQA's report pages, so a FinQA question and a ConvFinQA turn on the same page share the
  key, whichever of the two is evaluated;
- ``eval_ngram``: a question sharing a word n-gram with an evaluation question (n = 8 by default, as
  huggingface/open-r1 @ 1416fa0, ``scripts/decontaminate.py`` lines 36-68: lower-cased,
  whitespace-collapsed text, word n-grams).  Chinese is written without spaces, so every CJK character
  counts as one word here; otherwise a Chinese question would be one "word" and never match.  Only
  the question is compared: the shared context is what the document rule covers.  An n-gram found in
  more than ``TEMPLATE_ITEMS`` evaluation items is a benchmark's template or stock phrasing, not one
  question's words (TFNS wraps every tweet in the same instruction; FinQA asks "what was the
  percentage change in ..." on many pages): no n-gram touching its words is matched, on either side;
- ``eval_exact``: a question equal, after the same normalisation, to an evaluation question (this
  catches questions shorter than n words, which have no n-gram);
- ``duplicate_text``: a record whose normalised question and context equal those of a record already
  kept from another source (sources in name order: the first keeps it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from finr1_verl.data.records import Example, RecordError

DEFAULT_NGRAM = 8
TEMPLATE_ITEMS = 10  # an n-gram in more evaluation items than this is template text
EXCLUDED_ID = "excluded_id"
EVAL_DOCUMENT = "eval_document"
EVAL_NGRAM = "eval_ngram"
EVAL_EXACT = "eval_exact"
DUPLICATE_TEXT = "duplicate_text"
REASONS = (EXCLUDED_ID, EVAL_DOCUMENT, EVAL_NGRAM, EVAL_EXACT, DUPLICATE_TEXT)
ITEMS_KEY = "decontamination"  # the per-benchmark list in the items file
# A CJK ideograph is a word of its own; any other run of non-space characters is one word.
_WORDS = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


@dataclass(frozen=True)
class EvalText:
    """What decontamination needs of one evaluation item."""

    source: str
    id: str
    question: str
    document: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "id": self.id, "question": self.question, "document": self.document}


def eval_text(example: Example) -> EvalText:
    return EvalText(example.source, example.id, example.question, str(example.meta.get("document", "")))


def words(value: str) -> list[str]:
    return _WORDS.findall(value.lower())


def word_ngrams(value: str, n: int) -> set[str]:
    tokens = words(value)
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _digest(value: str) -> bytes:
    return hashlib.blake2b(value.encode(), digest_size=12).digest()


def items_file_benchmarks(path: Path) -> dict:
    """The ``benchmarks`` object of an items file (``finr1-eval select``); an unreadable file names it."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RecordError(path, "<document>", "<root>", f"cannot read the items file: {err}") from None
    benchmarks = payload.get("benchmarks") if isinstance(payload, dict) else None
    if not isinstance(benchmarks, dict):
        raise RecordError(path, "<document>", "benchmarks", "expected an object of benchmark -> {ids, ...}")
    return benchmarks


def read_eval_texts(path: Path) -> list[EvalText]:
    """The evaluation items of an items file; a file without the decontamination lists, or a damaged
    entry, names the benchmark and field."""
    benchmarks = items_file_benchmarks(path)
    texts = []
    for name, entry in benchmarks.items():
        entries = entry.get(ITEMS_KEY) if isinstance(entry, dict) else None
        if not isinstance(entries, list):
            raise RecordError(
                path,
                name,
                ITEMS_KEY,
                "no list of {id, question, document}: write the file with finr1-eval select",
            )
        for index, item in enumerate(entries):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("source", "id", "question")
            ):
                raise RecordError(
                    path, f"{name}[{index}]", ITEMS_KEY, "expected {source, id, question, document}"
                )
            texts.append(
                EvalText(item["source"], item["id"], item["question"], str(item.get("document") or ""))
            )
    return texts


class Decontaminator:
    """The rules above over a fixed set of evaluation items; :meth:`check` is called once per parsed
    training record, in source order, and remembers the kept records for ``duplicate_text``."""

    def __init__(
        self, items: Iterable[EvalText], ngram: int = DEFAULT_NGRAM, exclude_ids: Iterable[str] = ()
    ):
        if ngram < 0:
            raise ValueError(f"the n-gram size must be >= 0 (0 turns the rule off), got {ngram}")
        self.ngram = ngram
        self.ids = set(exclude_ids)
        self.documents: dict[str, EvalText] = {}
        self.grams: dict[str, EvalText] = {}
        self.questions: dict[bytes, EvalText] = {}
        items = list(items)
        spread: Counter = Counter()  # evaluation items per n-gram
        for item in items:
            self.ids.add(f"{item.source}/{item.id}")
            if item.document:
                self.documents.setdefault(item.document, item)
            self.questions.setdefault(_digest(" ".join(words(item.question))), item)
            if ngram:
                spread.update(word_ngrams(item.question, ngram))
        self.template = {gram for gram, count in spread.items() if count > TEMPLATE_ITEMS}
        for item in items:
            for gram in self._own_grams(words(item.question)) if ngram else ():
                self.grams.setdefault(gram, item)
        self._kept: dict[bytes, str] = {}  # normalised question + context -> the source that kept it

    def check(self, example: Example) -> tuple[str, str] | None:
        """``(reason, detail)`` when ``example`` must not train, else None (and it is remembered)."""
        if example.id in self.ids or f"{example.source}/{example.id}" in self.ids:
            return EXCLUDED_ID, "an evaluation item (--exclude-ids / --exclude-from)"
        document = str(example.meta.get("document", ""))
        if document and document in self.documents:
            return (
                EVAL_DOCUMENT,
                f"document {document!r} of evaluation item {self._name(self.documents[document])}",
            )
        tokens = words(example.question)
        if self.ngram and self.grams:
            for gram in self._own_grams(tokens):
                if gram in self.grams:
                    return (
                        EVAL_NGRAM,
                        f"{self.ngram}-gram {gram!r} of evaluation item {self._name(self.grams[gram])}",
                    )
        question = " ".join(tokens)
        match = self.questions.get(_digest(question))
        if match is not None:
            return EVAL_EXACT, f"same question as evaluation item {self._name(match)}"
        if not self.questions:  # plain id lists (--exclude-ids): no text rule
            return None
        key = _digest(question + "\n" + " ".join(example.context.lower().split()))
        first = self._kept.setdefault(key, example.source)
        if first != example.source:
            return DUPLICATE_TEXT, f"same question and context as a record of {first}"
        return None

    def _own_grams(self, tokens: list[str]) -> Iterator[str]:
        """The n-grams of ``tokens`` that share no word position with a template n-gram."""
        n = self.ngram
        grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        masked = [False] * len(tokens)
        for i, gram in enumerate(grams):
            if gram in self.template:
                masked[i : i + n] = [True] * n
        for i, gram in enumerate(grams):
            if not any(masked[i : i + n]):
                yield gram

    @staticmethod
    def _name(item: EvalText) -> str:
        return f"{item.source}/{item.id}"
