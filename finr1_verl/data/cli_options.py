"""Options that several finr1 commands take, declared and read in one place.

Not a subcommand itself: ``prepare`` and ``distill`` read sources the same way (``--source`` and
``--columns``); every command that talks to a model does it through one option group per model role
(``--<role>-urls``, ``--<role>-concurrency``, ``--<role>-timeout``, ``--<role>-retries``; roles:
``teacher`` in ``finr1-data distill``, ``judge`` in ``finr1-data filter`` and ``finr1-eval run``,
``model`` for the model under test in ``finr1-eval run``), so a flag means the same in every command.
The defaults and API keys come from the role's environment variables (``FINR1_<ROLE>_URLS``,
``FINR1_<ROLE>_MODEL``, ``FINR1_<ROLE>_API_KEY``: :func:`finr1_verl.llm.endpoints.role_env`).  A bad
value stops the command with :data:`~finr1_verl.exitcodes.BAD_INPUT`, like argparse does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from finr1_verl.data.decontaminate import DEFAULT_NGRAM
from finr1_verl.data.sources import SOURCES
from finr1_verl.data.sources.generic import MAPPING_KEYS, PARTS
from finr1_verl.exitcodes import BAD_INPUT, DONE, INCOMPLETE
from finr1_verl.llm import LLMClient
from finr1_verl.llm.endpoints import role_env


def bad_input(message: str) -> NoReturn:
    """Stop the command: ``message`` on stderr, exit code ``BAD_INPUT`` (argparse's code for bad flags)."""
    print(message, file=sys.stderr)
    raise SystemExit(BAD_INPUT)


def done_or_incomplete(failed: int, what: str) -> int:
    """``DONE``, or ``INCOMPLETE`` when ``failed`` requests failed for good in this run (saying so
    on stderr: ``what`` names them); a rerun of the same command retries only those."""
    if not failed:
        return DONE
    print(f"{failed} {what}; rerun the same command to retry them", file=sys.stderr)
    return INCOMPLETE


def add_source_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--source NAME=PATH``, ``--columns NAME:KEY=COL,...`` and ``--split NAME=SPLIT``, all repeatable;
    ``--exclude-from`` and ``--decontaminate-ngram``."""
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        required=required,
        metavar="NAME=PATH",
        help=f"a source file or folder; registered names: {', '.join(SOURCES)} (others: generic reader)",
    )
    parser.add_argument(
        "--columns",
        action="append",
        default=[],
        metavar="NAME:KEY=COL,...",
        help=f"column mapping for the generic reader, keys: {' '.join(MAPPING_KEYS)}",
    )
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="NAME=SPLIT",
        help="the upstream split (train, dev, validation, test, ...) of the source's files whose name"
        " tells none (they are 'unknown' and kept out of the mix otherwise); to name one file's split,"
        " give that file as its own --source",
    )
    parser.add_argument(
        "--exclude-from",
        type=Path,
        metavar="ITEMS_JSON",
        help="items file of finr1-eval select: drop those items and every record on their documents"
        " or sharing question n-grams with them",
    )
    parser.add_argument(
        "--decontaminate-ngram",
        type=int,
        metavar="N",
        help=f"word n-gram size of the question overlap rule (default {DEFAULT_NGRAM}; 0: off)",
    )


def name_value_pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` strings as stripped pairs, in order; an empty side stops the command."""
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            bad_input(f"{flag} expects NAME=VALUE, got {value!r}")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def column_maps(values: list[str]) -> dict[str, dict[str, str]]:
    """``--columns NAME:KEY=COL,...`` values as source name -> {key: column}; a comma-separated piece
    without ``=`` continues the column before it (``context=paragraphs[].text|join,table.table|table``)."""
    maps: dict[str, dict[str, str]] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep:
            bad_input(f"--columns expects NAME:KEY=COL,..., got {value!r}")
        pieces: list[str] = []
        for piece in PARTS.split(rest):  # a piece without '=' is the next part of the previous column
            if pieces and "=" not in piece:
                pieces[-1] += "," + piece
            else:
                pieces.append(piece)
        maps[name.strip()] = dict(name_value_pairs(pieces, "--columns"))
    return maps


def add_endpoint_arguments(
    parser: argparse.ArgumentParser,
    role: str,
    *,
    concurrency: int,
    timeout: float,
    retries_help: str,
    env: bool = True,
    description: str | None = None,
) -> argparse._ArgumentGroup:
    """The ``role`` model's endpoint group: ``--<role>-urls`` (comma-separated; default
    ``$FINR1_<ROLE>_URLS`` unless ``env`` is False), ``--<role>-concurrency``, ``--<role>-timeout``,
    ``--<role>-retries``.  Returns the group, where the command declares the role's model name."""
    variable = role_env(role).urls if env else ""
    group = parser.add_argument_group(f"{role} endpoint", description)
    group.add_argument(
        f"--{role}-urls",
        default=os.environ.get(variable) if env else None,
        help="OpenAI-compatible base URL(s), comma-separated" + (f" (default ${variable})" if env else ""),
    )
    group.add_argument(
        f"--{role}-concurrency",
        type=int,
        default=concurrency,
        help=f"requests in flight per URL (default {concurrency})",
    )
    group.add_argument(
        f"--{role}-timeout",
        type=float,
        default=timeout,
        help=f"seconds per request attempt (default {timeout:g})",
    )
    group.add_argument(f"--{role}-retries", type=int, default=3, help=f"{retries_help} (default 3)")
    return group


def endpoint_client(args: argparse.Namespace, role: str, model: str, **options: Any) -> LLMClient:
    """The client for the endpoint :func:`add_endpoint_arguments` declared, serving ``model``;
    ``options`` go to :class:`~finr1_verl.llm.LLMClient` as they are."""
    urls = getattr(args, f"{role}_urls")
    env = role_env(role)
    if not urls:
        bad_input(f"--{role}-urls (or ${env.urls}) is required")
    return LLMClient(
        urls,
        model,
        api_key_env=env.api_key,
        max_concurrency=getattr(args, f"{role}_concurrency"),
        timeout_s=getattr(args, f"{role}_timeout"),
        max_retries=getattr(args, f"{role}_retries"),
        **options,
    )
