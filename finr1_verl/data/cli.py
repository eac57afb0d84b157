"""``finr1-data``: the data command line; each subcommand lives in its own module.

A subcommand module exposes ``add_parser(subparsers)``, which registers its arguments and sets
``func`` (a callable taking the parsed namespace and returning an exit code); listing the module
in :data:`SUBCOMMANDS` is all it takes to add one.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: tuple[str, ...] = (
    "finr1_verl.data.cli_prepare",
    "finr1_verl.data.cli_distill",
    "finr1_verl.data.cli_filter",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finr1-data", description="Fin-R1 data pipeline for verl.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
