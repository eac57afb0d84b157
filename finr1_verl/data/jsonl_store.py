"""An append-only JSONL file of results, one line per key: the resumable state of a long run.

Distillation, filtering and evaluation take hours and must survive ``kill -9``.  Each result is
one JSON line written by a single ``os.write`` on an ``O_APPEND`` descriptor the moment it arrives,
so a killed process leaves every finished line intact and at most one torn last line; opening the
store finds a last line without its newline and cuts it off.  Lines are fsynced in groups (every
``fsync_interval_s``, and on close) from a worker thread so that the event loop never waits on the
disk: a killed process loses nothing it wrote (the page cache outlives it), a power cut at most the
last interval.

Every line carries its key (the field ``key``, ``source/id#sample``, unless the store names another
field) and usually a ``status`` (``ok`` or ``error``); the last line of a key wins, so a rerun appends
an ``ok`` line over an earlier ``error``.  :meth:`JsonlStore.compact` rewrites the file with one line
per key in key order, or in the order the caller gives (temp file, fsync, atomic rename), so a
finished run's file does not depend on arrival order or on how often the run was interrupted.  An
exclusive ``flock`` keeps two runs from appending to the same file.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from finr1_verl.data.records import RecordError

OK, ERROR = "ok", "error"


def sample_key(source: str, record_id: str, sample: int) -> str:
    """The store key of one sample of one question."""
    return f"{source}/{record_id}#{sample}"


def key_order(key: str) -> tuple[str, int]:
    """Sort order of keys: by question, then by sample number (so #10 comes after #2)."""
    question, _, sample = key.rpartition("#")
    return question, int(sample) if sample.isdigit() else -1


Entry = tuple[int, int, str | None]  # offset and length of a key's last line, and its status


def scan(path: Path, key_field: str = "key") -> tuple[dict[str, Entry], int]:
    """Index of a store file: key -> (offset, length, status) of its last line, and the end of the
    last complete line (a torn tail after it is not indexed).  A broken complete line is an error."""
    index: dict[str, Entry] = {}
    offset = 0
    if not path.exists():
        return index, 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break  # torn tail of a killed write
            try:
                record = json.loads(line)
                key, status = record[key_field], record.get("status")
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise RecordError(path, f"line {number}", key_field, f"not a store record: {err}") from None
            index[key] = (offset, len(line), status)
            offset += len(line)
    return index, offset


def read_latest(path: Path, key_field: str = "key") -> Iterator[dict[str, Any]]:
    """Every key's last record, in key order (read-only: a torn tail is skipped, not cut)."""
    index, _ = scan(path, key_field)
    with open(path, "rb") as handle:
        for key in sorted(index, key=key_order):
            offset, length, _ = index[key]
            handle.seek(offset)
            yield json.loads(handle.read(length))


class JsonlStore:
    """The store of one run; use as a context manager (closing fsyncs and releases the lock)."""

    def __init__(self, path: Path, *, key_field: str = "key", fsync_interval_s: float = 1.0):
        self.path = Path(path)
        self.key_field = key_field
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync_interval_s = fsync_interval_s
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise RuntimeError(f"{self.path} is in use by another run") from None
        try:
            self.index, end = scan(self.path, key_field)
        except RecordError:
            os.close(self._fd)
            raise
        self.torn_bytes = os.fstat(self._fd).st_size - end
        if self.torn_bytes:
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        self._size = end
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonl-fsync")
        self._pending_sync: Future | None = None
        self._last_sync = time.monotonic()

    def get(self, key: str) -> dict[str, Any] | None:
        """The last record stored for ``key``, or None."""
        entry = self.index.get(key)
        return None if entry is None else json.loads(os.pread(self._fd, entry[1], entry[0]))

    def status(self, key: str) -> str | None:
        entry = self.index.get(key)
        return entry[2] if entry else None

    def done(self, key: str) -> bool:
        return self.status(key) == OK

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, at once; schedule an fsync when the interval has passed."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        while written < len(line):  # a short write only happens on a full disk or a signal
            written += os.write(self._fd, line[written:])
        self.index[record[self.key_field]] = (self._size, len(line), record.get("status"))
        self._size += len(line)
        now = time.monotonic()
        idle = self._pending_sync is None or self._pending_sync.done()
        if idle and now - self._last_sync >= self.fsync_interval_s:
            self._last_sync = now
            self._pending_sync = self._syncer.submit(os.fsync, self._fd)

    def compact(self, keys: Iterable[str] | None = None) -> None:
        """Rewrite the file with the last line of each of ``keys`` in that order (default: every key,
        in key order), replacing it atomically.

        The new file is locked before it replaces the old one, so no other run can slip in."""
        order = sorted(self.index, key=key_order) if keys is None else list(keys)
        tmp = self.path.with_name(self.path.name + ".compact")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        index: dict[str, Entry] = {}
        size = 0
        with open(self.path, "rb") as source, os.fdopen(fd, "wb", closefd=False) as target:
            for key in order:
                offset, length, status = self.index[key]
                source.seek(offset)
                target.write(source.read(length))
                index[key] = (size, length, status)
                size += length
        os.fsync(fd)
        self._finish_sync()
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        os.close(self._fd)
        self._fd, self.index, self._size = fd, index, size

    def _finish_sync(self) -> None:
        if self._pending_sync is not None:
            self._pending_sync.result()
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd < 0:
            return
        self._finish_sync()
        self._syncer.shutdown()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
