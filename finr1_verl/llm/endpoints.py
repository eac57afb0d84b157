"""Endpoint URLs and the API key: how the client finds and authenticates to its servers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

API_KEY_ENV = ("FINR1_JUDGE_API_KEY", "OPENAI_API_KEY")


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


def resolve_api_key(api_key: str | None, env_names: Sequence[str] = API_KEY_ENV) -> str:
    """The explicit key, else the first set environment variable, else "EMPTY" (what vLLM accepts)."""
    if api_key:
        return api_key
    for name in env_names:
        value = os.environ.get(name)
        if value:
            return value
    return "EMPTY"
