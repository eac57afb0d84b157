"""The source registry: name -> parser of that dataset's published schema into Example records.

``parser_for("finqa")(path)`` yields :class:`~finr1_verl.data.records.Example` and
:class:`~finr1_verl.data.sources.base.Rejected` items.  A name that is not registered (or any
name given a column mapping) is read by the generic JSONL/CSV/parquet reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from finr1_verl.data.sources import (
    ant_fineva,
    convfinqa,
    fin_r1,
    finance_instruct,
    financeiq,
    financeqt,
    fincorpus,
    fincuge,
    finqa,
    generic,
    tfns,
)
from finr1_verl.data.sources.base import ParseItem, Rejected

Parser = Callable[[str | Path], Iterator[ParseItem]]

SOURCES: dict[str, Parser] = {
    "finqa": finqa.parse,
    "convfinqa": convfinqa.parse,
    "tfns": tfns.parse,
    "financeiq": financeiq.parse,
    "ant_fineva": ant_fineva.parse,
    "fincuge": fincuge.parse,
    "finance_instruct": finance_instruct.parse,
    "fincorpus": fincorpus.parse,
    "financeqt": financeqt.parse,
    "fin_r1": fin_r1.parse,
    # FinPEE (proprietary exam calculations) has no published schema: a user file with question/answer.
    "finpee": generic.make_parser("finpee"),
}


def parser_for(name: str, columns: Mapping[str, str] | None = None) -> Parser:
    """The registered parser for ``name``, or the generic reader when ``columns`` is given or
    the name is not registered."""
    if columns or name not in SOURCES:
        return generic.make_parser(name, columns)
    return SOURCES[name]


__all__ = ["SOURCES", "Parser", "ParseItem", "Rejected", "parser_for"]
