"""Options that several ``finr1-data`` subcommands take, declared and read in one place.

Not a subcommand itself: ``prepare`` and ``distill`` read sources the same way (``--source`` and
``--columns``), ``distill`` and ``filter`` talk to a model endpoint the same way (``--<role>-url``,
``--<role>-model``, concurrency, timeout, retries), so a flag means the same in every command.  The
defaults come from the role's environment variables (``FINR1_<ROLE>_URLS``, ``FINR1_<ROLE>_MODEL``,
``FINR1_<ROLE>_API_KEY``: :func:`finr1_verl.llm.endpoints.role_env`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from finr1_verl.data.sources import SOURCES
from finr1_verl.data.sources.generic import MAPPING_KEYS
from finr1_verl.llm import LLMClient
from finr1_verl.llm.endpoints import role_env


def add_source_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--source NAME=PATH`` and ``--columns NAME:KEY=COL,...``, both repeatable."""
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


def name_value_pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` strings as stripped pairs, in order; an empty side stops the command."""
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise SystemExit(f"{flag} expects NAME=VALUE, got {value!r}")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def column_maps(values: list[str]) -> dict[str, dict[str, str]]:
    """``--columns NAME:KEY=COL,...`` values as source name -> {key: column}."""
    maps: dict[str, dict[str, str]] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep:
            raise SystemExit(f"--columns expects NAME:KEY=COL,..., got {value!r}")
        maps[name.strip()] = dict(name_value_pairs(rest.split(","), "--columns"))
    return maps


def add_endpoint_arguments(
    parser: argparse.ArgumentParser,
    role: str,
    *,
    model: str,
    concurrency: int,
    timeout: float,
    retries_help: str,
) -> None:
    """The ``role`` model's endpoint: ``--<role>-url`` (default ``$FINR1_<ROLE>_URLS``), ``--<role>-model``
    (default ``$FINR1_<ROLE>_MODEL``, else ``model``), ``--concurrency``, ``--timeout``, ``--retries``;
    read back with :func:`endpoint_client`."""
    env = role_env(role)
    group = parser.add_argument_group(f"{role} endpoint")
    group.add_argument(
        f"--{role}-url",
        default=os.environ.get(env.urls),
        help=f"endpoint(s): URLs or host:port, comma-separated (default ${env.urls})",
    )
    group.add_argument(
        f"--{role}-model",
        default=os.environ.get(env.model) or model,
        help=f"served model name (default ${env.model}, else {model})",
    )
    group.add_argument(
        "--concurrency",
        type=int,
        default=concurrency,
        help=f"requests in flight per endpoint (default {concurrency})",
    )
    group.add_argument(
        "--timeout", type=float, default=timeout, help=f"seconds per request attempt (default {timeout:g})"
    )
    group.add_argument("--retries", type=int, default=3, help=f"{retries_help} (default 3)")


def endpoint_client(args: argparse.Namespace, role: str, **options: Any) -> LLMClient:
    """The client for the endpoint :func:`add_endpoint_arguments` declared, with the role's API key
    variables; ``options`` go to :class:`~finr1_verl.llm.LLMClient` as they are."""
    url = getattr(args, f"{role}_url")
    env = role_env(role)
    if not url:
        raise SystemExit(f"--{role}-url (or ${env.urls}) is required")
    return LLMClient(
        url,
        getattr(args, f"{role}_model"),
        api_key_env=env.api_key,
        max_concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_retries=args.retries,
        **options,
    )
