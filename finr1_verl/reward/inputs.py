"""Coercing what verl or a user passes to the reward into plain strings, or a clear error.

verl hands the reward whatever the RL parquet held: a ground truth may arrive as a string, a list or
numpy array of strings, a bare number, a numpy scalar or 0-d array, or bytes; ``extra_info`` fields
may be numbers or bytes.  Everything is coerced here, before any rule or judge sees it:

* :func:`readings` - the non-empty ground-truth readings, as strings (numbers written as Python
  prints them, bytes decoded as UTF-8, nested lists flattened, ``None`` skipped);
* :func:`answer_type` - one of :data:`ANSWER_TYPES`, matched case-insensitively;
* :func:`optional_text` - a question or option text as a string.

Anything unusable raises :class:`InputError`, whose ``field`` names the field (the reward counts it
under that name when it is not strict).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

ANSWER_TYPES = ("numeric", "choice", "label", "boolean", "text")
FIELDS = ("response", "ground_truth", "answer_type", "choices", "question", "extra_info")
_MAX_DEPTH = 3


class InputError(ValueError):
    """An unusable reward input; ``field`` is one of :data:`FIELDS`."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _scalar(value: Any) -> Any:
    """numpy scalars and 0-d arrays as the Python value they hold; anything else unchanged."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def as_text(value: Any, field: str) -> str:
    """One scalar as text: str as is, bytes decoded, bool/int/float written out; else :class:`InputError`."""
    value = _scalar(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(field, f"{field} is not UTF-8 text: {exc}") from exc
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(field, f"{field} is not a finite number: {value!r}")
        return repr(value)
    raise InputError(field, f"{field} must be text or a number, got {type(value).__name__}")


def readings(ground_truth: Any) -> tuple[str, ...]:
    """Non-empty ground-truth readings as strings (see the module docstring); may be empty."""
    found: list[str] = []
    _collect(ground_truth, found, 0)
    return tuple(dict.fromkeys(found))


def _collect(value: Any, found: list[str], depth: int) -> None:
    value = _scalar(value)
    if value is None:
        return
    if isinstance(value, (str, bytes, bytearray, int, float)):
        text = as_text(value, "ground_truth").strip()
        if text:
            found.append(text)
        return
    if isinstance(value, Mapping) or not isinstance(value, Iterable) and not hasattr(value, "tolist"):
        raise InputError(
            "ground_truth",
            f"ground_truth must be text, a number or a list of them, got {type(value).__name__}",
        )
    if depth >= _MAX_DEPTH:
        raise InputError("ground_truth", f"ground_truth is nested more than {_MAX_DEPTH} levels deep")
    items = value.tolist() if hasattr(value, "tolist") else value
    for item in items if isinstance(items, Iterable) else [items]:
        _collect(item, found, depth + 1)


def answer_type(value: Any) -> str | None:
    """The answer type named by ``extra_info.answer_type`` (any case), None when absent."""
    value = _scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    name = as_text(value, "answer_type").strip().lower()
    if name not in ANSWER_TYPES:
        raise InputError(
            "answer_type", f"answer_type must be one of {ANSWER_TYPES} (any case), got {value!r}"
        )
    return name


def optional_text(value: Any, field: str) -> str | None:
    """A question or similar field as text; None when absent or empty."""
    value = _scalar(value)
    if value is None:
        return None
    text = as_text(value, field)
    return text if text.strip() else None
