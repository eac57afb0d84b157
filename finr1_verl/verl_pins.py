"""verl's own version pins, read from its metadata: the installed distribution's (the doctor), or the
published release's before anything is installed (the GPU install route, ``scripts/_venv.sh``).

``python -m finr1_verl.verl_pins EXTRAS NAME...`` prints verl's requirement for each NAME in its
comma-separated EXTRAS as pip arguments, e.g. ``torch==2.11.0 flash-attn==2.8.3`` for ``vllm,fsdp torch
flash-attn``.  It reads the metadata of verl ``VERL_VERSION`` from the package index through
``pip install --dry-run --no-deps --report`` (the index serves the metadata alone, PEP 658: no wheel is
downloaded), so the route can install verl's torch before anything that depends on torch.  Needs only
the standard library, pip and ``packaging``: it runs before the project is installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# The verl release the project pins (pyproject.toml; tests/test_gpu_install_route.py keeps the two equal).
VERL_VERSION = "0.9.1"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_requires() -> list[str]:
    """``Requires-Dist`` of the installed verl."""
    return metadata.requires("verl") or []


def published_requires(version: str = VERL_VERSION) -> list[str]:
    """``Requires-Dist`` of verl ``version`` on the package index, without installing or downloading it."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed"]
        cmd += ["--quiet", "--report", str(report), f"verl=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not report.exists():
            raise SystemExit(
                f"could not read verl {version}'s metadata from the index: {proc.stderr.strip()}"
            )
        (item,) = json.loads(report.read_text(encoding="utf-8"))["install"]
    return item["metadata"].get("requires_dist", [])


def requirements(extras: Iterable[str], requires: list[str]) -> list[Requirement]:
    """verl's requirements for ``extras`` (nested ``verl[...]`` extras followed), one per package."""
    raw = [Requirement(r) for r in requires]
    seen: set[str] = set()
    todo = list(extras)
    found: dict[str, Requirement] = {}
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in raw:
            if req.marker is None or not req.marker.evaluate({"extra": extra}):
                continue
            if req.name == "verl":
                todo.extend(req.extras)
            else:
                found.setdefault(canonical(req.name), req)
    return list(found.values())


def pins(extras: str, names: list[str], requires: list[str]) -> list[str]:
    """verl's requirement for each of ``names`` in its comma-separated ``extras``, as pip arguments."""
    found = {canonical(r.name): r for r in requirements(extras.split(","), requires)}
    missing = [n for n in names if canonical(n) not in found]
    if missing:
        raise SystemExit(f"verl[{extras}] does not require {missing}")
    return [f"{found[canonical(n)].name}{found[canonical(n)].specifier}" for n in names]


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m finr1_verl.verl_pins EXTRAS NAME...")
    print(" ".join(pins(sys.argv[1], sys.argv[2:], published_requires())))
