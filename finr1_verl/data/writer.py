"""Parquet written in fixed-size batches with a fixed schema, so output is streamed and byte-stable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 8192


class BatchWriter:
    """Collects row dicts and writes a row group every ``batch_rows`` rows.

    Row groups are cut at fixed row counts and no timestamp is stored, so the same rows give the
    same bytes.  A writer that received no row writes an empty file with the schema on close, so
    every declared output exists (unless ``keep_empty`` is False: then no file at all).
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        batch_rows: int = BATCH_ROWS,
        keep_empty: bool = True,
        also: Callable[[pa.Table], None] | None = None,
    ):
        self.path, self.schema, self.batch_rows, self.keep_empty = path, schema, batch_rows, keep_empty
        self.also = also  # receives every batch as a table: rows converted once, written twice
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._writer: pq.ParquetWriter | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        self.write_table(table)
        if self.also is not None:
            self.also(table)
        self.rows = []

    def write_table(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=self.batch_rows)
        self.count += table.num_rows

    def close(self) -> None:
        self.flush()
        if self._writer is None and self.keep_empty:
            self.write_table(self.schema.empty_table())
        if self._writer is not None:
            self._writer.close()
