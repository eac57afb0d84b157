"""What ``distill`` and ``filter`` share: a bounded pool of coroutines over a job stream, report tables.

Jobs are pulled from the iterator only when a worker is free, so a run over 60k questions holds
``concurrency`` jobs in memory, never the whole list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

J = TypeVar("J")


async def run_pool(jobs: Iterable[J], handle: Callable[[J], Awaitable[None]], concurrency: int) -> None:
    """``await handle(job)`` for every job, at most ``concurrency`` at a time.

    ``handle`` records expected faults itself; anything it raises (a bug, a bad input file) stops
    the pool: the other workers are cancelled and the exception propagates.
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


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned, a rule under the header."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
