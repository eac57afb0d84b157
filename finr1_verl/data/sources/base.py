"""What every source parser shares: the reject record and file readers that name the bad spot.

Parsers are generators over one input path.  They yield an :class:`~finr1_verl.data.records.Example`
for every usable record and a :class:`Rejected` for every record that cannot become one (empty
answer, empty question, duplicate id, ...), so that every input record ends in exactly one place.
A file that cannot be read at all (truncated JSON, bytes that are not UTF-8, a CSV without a
required column) raises :class:`~finr1_verl.data.records.RecordError` naming the file, the line or
record and the field: silently skipping it would lose records.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finr1_verl.data.records import Example, RecordError


@dataclass(frozen=True)
class Rejected:
    """One input record that produced no example, with the reason (a short stable key) and detail."""

    source: str
    file: str
    record: str | int
    reason: str
    detail: str = ""
    id: str = ""


ParseItem = Example | Rejected

# Reasons shared by several sources (report.json groups rejects by these keys).
EMPTY_QUESTION = "empty_question"
EMPTY_ANSWER = "empty_answer"
DUPLICATE_ID = "duplicate_id"
INVALID_JSON = "invalid_json"
INVALID_RECORD = "invalid_record"
UNLABELLED = "unlabelled"
BAD_LABEL = "bad_label"


def files_under(path: str | Path, suffixes: tuple[str, ...]) -> list[Path]:
    """``path`` itself, or every file below it with one of ``suffixes``, in a stable (sorted) order."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
    if not found:
        raise FileNotFoundError(f"{path}: no {'/'.join(suffixes)} file below it")
    return found


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its newline) for a text file, streaming.

    Decoding per line makes a bad byte an error that names its line instead of the whole file.
    A UTF-8 byte-order mark at the start is dropped (Excel writes one).
    """
    path = Path(path)
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise RecordError(
                    path, f"line {number}", "<bytes>", f"not valid UTF-8 at byte {err.start} of the line"
                ) from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield number, line


def load_json(path: str | Path) -> Any:
    """A whole JSON document; a decode error names the line and column where it broke."""
    path = Path(path)
    text = "".join(line for _, line in iter_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordError(
            path, f"line {err.lineno} column {err.colno}", "<document>", f"invalid JSON: {err.msg}"
        ) from None


def iter_jsonl(path: str | Path, source: str) -> Iterator[tuple[int, dict | Rejected]]:
    """(line number, object) per non-blank line; a line that is not a JSON object becomes a reject."""
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, Rejected(source, str(path), f"line {number}", INVALID_JSON, err.msg)
            continue
        if not isinstance(obj, dict):
            yield number, Rejected(source, str(path), f"line {number}", INVALID_JSON, "not a JSON object")
            continue
        yield number, obj


def iter_json_records(path: str | Path, source: str) -> Iterator[tuple[int, dict | Rejected]]:
    """Records of a JSON array file or a JSON-lines file (sniffed from the first non-blank byte)."""
    path = Path(path)
    with _open_binary(path) as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        records = load_json(path)
        for index, obj in enumerate(records):
            if not isinstance(obj, dict):
                yield index, Rejected(source, str(path), index, INVALID_JSON, "not a JSON object")
            else:
                yield index, obj
    else:
        yield from iter_jsonl(path, source)


def iter_csv(path: str | Path, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row as dict) for a CSV with a header; a missing required column is an error.

    Rows with a different number of cells than the header also raise: their fields cannot be
    assigned to columns with any confidence.
    """
    path = Path(path)
    reader = csv.reader(line for _, line in iter_lines(path))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise RecordError(path, "line 1", "<header>", "empty file: no CSV header") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise RecordError(path, "line 1", missing[0], f"required column missing (header: {header})")
    for cells in reader:
        if not cells:
            continue
        if len(cells) != len(header):
            raise RecordError(
                path, f"line {reader.line_num}", "<row>", f"{len(cells)} cells for {len(header)} columns"
            )
        yield reader.line_num, dict(zip(header, cells, strict=True))


def is_missing(value: Any) -> bool:
    """True for None, NaN (pandas/parquet empty cells) and blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def text(value: Any) -> str:
    """A cell as stripped text ('' when missing); numbers keep their natural spelling."""
    if type(value) is str:  # the common case first: this runs several times per record
        return value.strip()
    if is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def format_number(value: Any) -> str:
    """An executed answer as a compact string: 94.0 -> '94', 0.14464 -> '0.14464', 'yes' -> 'yes'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    return text(value)


class IdGuard:
    """Rejects a second record with an id already seen in the same source."""

    def __init__(self, source: str):
        self.source = source
        self._seen: set[str] = set()

    def check(self, example: Example, file: str, record: str | int) -> ParseItem:
        if example.id in self._seen:
            return Rejected(
                self.source, file, record, DUPLICATE_ID, f"id {example.id!r} seen before", example.id
            )
        self._seen.add(example.id)
        return example


def require_text(
    source: str, file: str, record: str | int, rid: str, question: str, answer: str
) -> Rejected | None:
    """The common record checks: a question and an answer must both be present."""
    if not question:
        return Rejected(source, file, record, EMPTY_QUESTION, "question is empty", rid)
    if not answer:
        return Rejected(source, file, record, EMPTY_ANSWER, "answer is empty or NaN", rid)
    return None


def markdown_table(rows: list[list[Any]]) -> str:
    """A table (first row = header) as GitHub markdown, the form chat models read best."""
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    cells = [[text(cell).replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    cells = [row + [""] * (width - len(row)) for row in cells]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def report_page(record_id: str) -> str:
    """The report page a FinQA or ConvFinQA id names: ``ADI/2009/page_49.pdf-1`` (FinQA) and
    ``Single_ADI/2009/page_49.pdf-2`` / ``Double_ADI/2009/page_49.pdf`` (ConvFinQA) all give
    ``ADI/2009/page_49.pdf``, so records of both datasets on one page share their document key.
    An id of another form (a position-made fallback) names no page: ''."""
    page = re.sub(r"^(Single|Double)_", "", record_id)
    page = re.sub(r"-\d+$", "", page)
    return page if ".pdf" in page else ""


def report_context(pre_text: Any, table: list[list[Any]], post_text: Any) -> str:
    """FinQA/ConvFinQA evidence: text before the table, the table in markdown, text after it."""

    def joined(part: Any) -> str:
        return "\n".join(text(p) for p in part if text(p)) if isinstance(part, list) else text(part)

    return "\n\n".join(part for part in (joined(pre_text), markdown_table(table), joined(post_text)) if part)


def iter_table_records(path: str | Path, source: str) -> Iterator[tuple[int, dict | Rejected]]:
    """Records of a JSONL / JSON / CSV / parquet file, by extension (parquet read in batches)."""
    path = Path(path)
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        index = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                yield index, row
                index += 1
    elif name.endswith(".csv"):
        for number, row in iter_csv(path, required=()):
            yield number, row
    else:
        yield from iter_json_records(path, source)


# The split names upstreams use, by the kind of split they are: a training split, a development
# split (dev / validation / eval: an upstream's model-selection or public evaluation set) or a test split.
SPLIT_KINDS: dict[str, str] = {
    **dict.fromkeys(("train", "training", "trn"), "train"),
    **dict.fromkeys(("dev", "development", "val", "valid", "validation", "eval", "evaluation"), "dev"),
    **dict.fromkeys(
        ("test", "testing", "tst", "test_gold", "private_test", "test_private", "public_test"), "test"
    ),
}
UNKNOWN_SPLIT = "unknown"
_SEPARATORS = re.compile(r"[_\-.\s]+")


def split_kind(split: str) -> str:
    """``train``, ``dev``, ``test`` or ``unknown`` for an upstream split name."""
    return SPLIT_KINDS.get(split, UNKNOWN_SPLIT)


def split_name(name: str) -> str:
    """The split a name says (a hub split, a file stem, a folder): the whole name when it is a split
    name, else its one split word (``finqa_test_first100`` -> ``test``, ``test_gold`` -> ``test_gold``);
    ``unknown`` when it names none, or splits of different kinds (``train_test``)."""
    lowered = name.lower()
    if lowered in SPLIT_KINDS:
        return lowered
    tokens = [token for token in _SEPARATORS.split(lowered) if token]
    pairs = [f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    found = [pair for pair in pairs if pair in SPLIT_KINDS]
    if not found:
        found = [token for token in tokens if token in SPLIT_KINDS]
    kinds = {SPLIT_KINDS[name] for name in found}
    return found[0] if len(kinds) == 1 else UNKNOWN_SPLIT


def split_from_name(file: Path, default: str = UNKNOWN_SPLIT) -> str:
    """The upstream split a file's name says (``train.json``, ``finqa_test_first100.json``,
    ``sent_valid.csv``), else its folder's when the folder is named by a split alone
    (``dev/accounting.csv``; a folder's other words say nothing), else ``default``."""
    split = split_name(file.name.split(".")[0])
    if split != UNKNOWN_SPLIT:
        return split
    folder = file.parent.name.lower()
    return folder if folder in SPLIT_KINDS else default


@dataclass(frozen=True)
class RecordAt:
    """Where a record came from: the file (or hub dataset) it was read from, its position there
    (line number or index), the stem that prefixes ids made from the position, and its upstream split."""

    file: str
    position: int
    stem: str
    split: str

    @property
    def default_id(self) -> str:
        return f"{self.stem}-{self.position}"


RecordReader = Callable[[dict, RecordAt], ParseItem]


def parse_table_files(
    path: str | Path, source: str, suffixes: tuple[str, ...], read: RecordReader
) -> Iterator[ParseItem]:
    """The per-file loop of a table-shaped source, written once: every record of every JSON / JSONL /
    CSV / parquet file under ``path`` through ``read`` (a pure record -> item function), ids guarded."""
    guard = IdGuard(source)
    for file in files_under(path, suffixes):
        stem, split = file.name.split(".")[0], split_from_name(file)
        for position, record in iter_table_records(file, source):
            if isinstance(record, Rejected):
                yield record
                continue
            item = read(record, RecordAt(str(file), position, stem, split))
            yield guard.check(item, str(file), position) if isinstance(item, Example) else item


def parse_records(
    records: Iterable[tuple[str, int, dict]], label: str, source: str, read: RecordReader
) -> Iterator[ParseItem]:
    """The same loop over ``(split, position, record)`` triples (a hub dataset's splits, streamed);
    ids made from positions use the split as their stem, as a local ``<split>.json`` file would."""
    guard = IdGuard(source)
    for split, position, record in records:
        item = read(record, RecordAt(label, position, split, split_name(split)))
        yield guard.check(item, label, position) if isinstance(item, Example) else item


def open_answer_reader(source: str, question: str, answer: str, context: str) -> RecordReader:
    """A reader for records with a question, a free-text answer and a context column (named so)."""

    def read(record: dict, at: RecordAt) -> ParseItem:
        question_text, answer_text = text(record.get(question)), text(record.get(answer))
        problem = require_text(source, at.file, at.position, at.default_id, question_text, answer_text)
        if problem:
            return problem
        return Example(
            source=source,
            id=at.default_id,
            question=question_text,
            answer=answer_text,
            answer_type="text",
            split=at.split,
            context=text(record.get(context)),
        )

    return read
