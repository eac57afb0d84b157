"""The source registry: name -> parser of that dataset's published schema into Example records.

``parser_for("finqa")(path)`` yields :class:`~finr1_verl.data.records.Example` and
:class:`~finr1_verl.data.sources.base.Rejected` items.  A name that is not registered (or any
name given a column mapping) is read by the generic JSONL/CSV/parquet reader.
``hub_parser_for(name)(HubSpec)`` reads a hub-only source streamed from the hub.
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
from finr1_verl.data.sources.base import ParseItem, RecordReader, Rejected, parse_records
from finr1_verl.data.sources.hub import HubSpec, iter_hub_records

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


# The sources published only on the hub, by their record reader.
HUB_READERS: dict[str, RecordReader] = {
    "finance_instruct": finance_instruct.read,
    "fincorpus": fincorpus.read,
    "financeqt": financeqt.read,
    "fin_r1": fin_r1.read,
}


def hub_parser_for(name: str) -> Callable[[HubSpec], Iterator[ParseItem]]:
    """The parse function of a hub-only source for an ``hf:`` spec."""
    if name not in HUB_READERS:
        raise ValueError(
            f"{name}: hf: sources are read for {', '.join(HUB_READERS)}; download the files for others"
        )
    read = HUB_READERS[name]
    return lambda spec: parse_records(iter_hub_records(spec), str(spec), name, read)


def parser_for(name: str, columns: Mapping[str, str] | None = None) -> Parser:
    """The registered parser for ``name``, or the generic reader when ``columns`` is given or
    the name is not registered."""
    if columns or name not in SOURCES:
        return generic.make_parser(name, columns)
    return SOURCES[name]


__all__ = ["HUB_READERS", "SOURCES", "Parser", "ParseItem", "Rejected", "hub_parser_for", "parser_for"]
