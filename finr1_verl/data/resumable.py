"""The skeleton of a resumable run, shared by distillation, filtering and evaluation.

A run works through jobs whose results must survive ``kill -9``; its parts, in order:

* **store** — a :class:`~finr1_verl.data.jsonl_store.JsonlStore`: each result is one line written
  the moment it arrives, the last line of a key wins;
* **pending** — the jobs whose key the store does not hold as done, listed lazily
  (:meth:`ResumableRun.pending`), so a rerun asks only for what is missing or failed;
* **pool** — at most ``concurrency`` jobs at a time (:meth:`ResumableRun.run`); a run whose results
  come from a stream of its own (evaluation's generation backends) saves them with
  :meth:`ResumableRun.save`;
* **progress** — one bar counting saved results, with a status line the caller provides, on a
  terminal only (tqdm's ``disable=None``); written to a file or a pipe, a plain line every
  ``log_every`` results instead of hundreds of ``\r`` updates;
* **report** — at the end the store is compacted (so an interrupted-and-resumed run leaves the same
  bytes as an uninterrupted one) and the caller's report written with :func:`write_report`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from finr1_verl.data.jsonl_store import JsonlStore

J = TypeVar("J")
Record = dict[str, Any]


class Closable(Protocol):
    async def aclose(self) -> None: ...


async def run_pool(jobs: Iterable[J], handle: Callable[[J], Awaitable[None]], concurrency: int) -> None:
    """``await handle(job)`` for every job, at most ``concurrency`` at a time.

    Jobs are pulled from the iterator only when a worker is free, so a run over 60k questions holds
    ``concurrency`` jobs in memory, never the whole list.  ``handle`` records expected faults
    itself; anything it raises (a bug, a bad input file) stops the pool: the other workers are
    cancelled and the exception propagates.
    """
    iterator = iter(jobs)

    async def worker() -> None:
        for job in iterator:  # next() runs between awaits: workers never pull at the same time
            await handle(job)

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def write_report(path: Path, report: dict[str, Any]) -> None:
    """A run's report as indented JSON (non-ASCII kept readable)."""
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class ResumableRun:
    """The store and progress bar of one run; use as a context manager (closing releases the store)."""

    def __init__(
        self,
        path: Path,
        *,
        desc: str,
        unit: str,
        progress: bool = True,
        key_field: str = "key",
        log_every: int = 50,
    ):
        self.store = JsonlStore(path, key_field=key_field)
        self.desc, self.unit, self.progress, self.log_every = desc, unit, progress, log_every
        self._bar: tqdm | None = None
        self._status: Callable[[], str] | None = None
        self._count = self._total = 0
        self._lines = False  # progress as plain lines (no terminal)

    def pending(self, jobs: Iterable[J], key: Callable[[J], str]) -> Iterator[J]:
        """The jobs whose result is not stored as done, lazily."""
        return (job for job in jobs if not self.store.done(key(job)))

    def start(self, total: int, *, done: int = 0, status: Callable[[], str] | None = None) -> None:
        """Show progress over ``total`` results, ``done`` of them already stored; ``status`` gives the
        text shown after the bar (tokens, errors, ...), read after every saved result."""
        self._status = status
        self._bar = tqdm(
            total=total,
            initial=done,
            desc=self.desc,
            unit=self.unit,
            mininterval=1.0,
            disable=None if self.progress else True,  # None: a bar only when stderr is a terminal
        )
        self._count, self._total = done, total
        self._lines = self.progress and self._bar.disable and self.log_every > 0

    def save(self, record: Record) -> None:
        """Store one result at once and count it."""
        self.store.append(record)
        self._count += 1
        if self._lines and (self._count % self.log_every == 0 or self._count == self._total):
            status = f" ({self._status()})" if self._status is not None else ""
            print(f"{self.desc}: {self._count}/{self._total}{self.unit}{status}", file=sys.stderr, flush=True)
        if self._bar is not None:
            if self._status is not None:
                self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.update()

    def run(
        self,
        jobs: Iterable[J],
        handle: Callable[[J], Awaitable[Record]],
        concurrency: int,
        *,
        clients: Iterable[Closable] = (),
    ) -> None:
        """Every job through ``handle``, at most ``concurrency`` at a time, in an event loop of its
        own; each returned record is saved at once.  The clients are closed when the pool ends,
        however it ends."""

        async def one(job: J) -> None:
            self.save(await handle(job))

        async def main() -> None:
            try:
                await run_pool(jobs, one, concurrency)
            finally:
                for client in dict.fromkeys(clients):  # each client once
                    await client.aclose()

        asyncio.run(main())

    def finish(self, keys: Iterable[str] | None = None) -> None:
        """The run is complete: the store is rewritten in key order (or in the order of ``keys``)."""
        self._close_bar()
        self.store.compact(keys)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._close_bar()
        self.store.close()

    def __enter__(self) -> ResumableRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
