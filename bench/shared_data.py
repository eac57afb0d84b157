"""Where the real financial data sets live: ``$FINR1_SHARED_DATA``, else ``../shared/data`` beside the
checkout (they are never copied into the repository).  Used by the benchmarks and the test suite."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FINR1_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def real_data(*parts: str) -> Path:
    """A path under :data:`SHARED_DATA`; stops the benchmark with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"real data not available: {path} is absent (set FINR1_SHARED_DATA to its folder)")
    return path
