"""``rejects.jsonl``: one line per input record that became no example, with its reason.

``prepare``, ``distill`` and evaluation write their rejects through :class:`RejectWriter`, so the
file reads the same everywhere: the caller's context first (evaluation adds ``benchmark``), then
``source, file, record, id, reason, detail`` of the :class:`~finr1_verl.data.sources.Rejected`.
"""

from __future__ import annotations

import json
from pathlib import Path

from finr1_verl.data.sources import Rejected


def reject_line(item: Rejected, **context: str) -> str:
    """The JSON line of one reject."""
    record = {**context, "source": item.source, "file": item.file, "record": item.record, "id": item.id}
    record |= {"reason": item.reason, "detail": item.detail}
    return json.dumps(record, ensure_ascii=False) + "\n"


class RejectWriter:
    """Writes ``rejects.jsonl`` (replacing an older one); a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, item: Rejected, **context: str) -> None:
        self._handle.write(reject_line(item, **context))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
