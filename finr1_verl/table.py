"""Plain-text tables for the terminal, aligned by display width.

Every table the command line tools print goes through :func:`format_table`.  Widths are measured
as a terminal shows them: East Asian wide and fullwidth characters (Chinese source names, labels
such as 消极) take two columns, combining marks none, so columns stay aligned on CJK text where
``len`` would misalign them.  Columns of numbers (also numbers already written out: ``1,024``,
``2.50x``, ``12.5%``) are right-aligned, text left-aligned.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from numbers import Number
from typing import Any

_WRITTEN_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?[%x]?")


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _is_number(cell: Any) -> bool:
    if isinstance(cell, str):
        return _WRITTEN_NUMBER.fullmatch(cell) is not None
    return isinstance(cell, Number) and not isinstance(cell, bool)


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, total: Sequence[Any] | None = None
) -> str:
    """``rows`` under ``header`` and a rule; ``total``, when given, after a second rule.

    A column is right-aligned when every cell in it is a number or empty (its header too)."""
    body = [*rows, *([total] if total is not None else [])]
    right = [
        all(_is_number(row[i]) or row[i] in ("", None) for row in body) and bool(body)
        for i in range(len(header))
    ]
    cells = [[("" if cell is None else str(cell)) for cell in row] for row in [header, *body]]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        padded = []
        for cell, width, align_right in zip(row, widths, right, strict=True):
            pad = " " * (width - display_width(cell))
            padded.append(pad + cell if align_right else cell + pad)
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [line(cells[0]), rule, *(line(row) for row in cells[1 : len(rows) + 1])]
    if total is not None:
        lines += [rule, line(cells[-1])]
    return "\n".join(lines)
