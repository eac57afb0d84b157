"""Locate the real financial datasets in ``../shared/data`` (never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.shared_data import REPO_ROOT, SHARED_DATA

__all__ = ["REPO_ROOT", "SHARED_DATA", "shared_path"]


def shared_path(*parts: str) -> Path:
    """Path under the shared data folder; skips the calling test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set FINR1_SHARED_DATA to its folder)")
    return path
