"""Endpoints and API keys: how every caller finds and authenticates to its model servers.

One parser (:func:`parse_endpoints`) reads every form the project accepts, wherever it comes from:
a list of URLs, a comma-separated string, ``host:port`` (what verl passes as
``reward_router_address`` when it hosts the judge itself), or a URL without ``/v1``.  Each becomes an
OpenAI-compatible base URL such as ``http://10.0.0.1:8000/v1``: requests go to ``{base}/chat/completions``
and the model list to ``{base}/models`` (:func:`models_url`).

Each role reads one set of environment variables (:func:`role_env`): ``FINR1_<ROLE>_URLS``,
``FINR1_<ROLE>_MODEL`` and ``FINR1_<ROLE>_API_KEY`` (then ``OPENAI_API_KEY``), for the roles in
:data:`ROLES`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# judge: the reward, `finr1-data filter`, `finr1-eval --judge-*`, `finr1-recipe doctor`;
# teacher: `finr1-data distill`; eval: the model under evaluation behind `finr1-eval run --model-urls`.
ROLES = ("judge", "teacher", "eval")


@dataclass(frozen=True)
class RoleEnv:
    """The environment variables of one role."""

    urls: str
    model: str
    api_key: tuple[str, ...]


def role_env(role: str) -> RoleEnv:
    """``FINR1_<ROLE>_URLS``, ``FINR1_<ROLE>_MODEL`` and the API key variables of ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown endpoint role {role!r}; expected one of {ROLES}")
    prefix = f"FINR1_{role.upper()}"
    return RoleEnv(f"{prefix}_URLS", f"{prefix}_MODEL", (f"{prefix}_API_KEY", "OPENAI_API_KEY"))


API_KEY_ENV = role_env("judge").api_key


def normalize_base_url(url: str) -> str:
    """``ip:port`` → ``http://ip:port/v1``; a URL without a path gets ``/v1``; others are kept."""
    url = url.strip().rstrip("/")
    if not url:
        raise ValueError("empty endpoint URL")
    if "://" not in url:
        url = "http://" + url
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def parse_endpoints(urls: str | Sequence[str] | None) -> list[str]:
    """Endpoints from a list or a comma-separated string, normalised, duplicates dropped, order kept."""
    if urls is None:
        return []
    items = urls.split(",") if isinstance(urls, str) else [str(u) for u in urls]
    out: list[str] = []
    for item in items:
        if item.strip():
            url = normalize_base_url(item)
            if url not in out:
                out.append(url)
    return out


def endpoints_from_env(role: str) -> list[str]:
    """The endpoints ``FINR1_<ROLE>_URLS`` lists (empty when unset)."""
    return parse_endpoints(os.environ.get(role_env(role).urls))


def models_url(endpoint: str) -> str:
    """Where an endpoint lists the models it serves (OpenAI ``GET /v1/models``)."""
    return normalize_base_url(endpoint) + "/models"


def resolve_api_key(api_key: str | None, env_names: Sequence[str] = API_KEY_ENV) -> str:
    """The explicit key, else the first set environment variable, else "EMPTY" (what vLLM accepts)."""
    if api_key:
        return api_key
    for name in env_names:
        value = os.environ.get(name)
        if value:
            return value
    return "EMPTY"
