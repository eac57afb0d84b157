"""Code health checks over the package: no duplicated code (pylint's duplicate-code, R0801, with the
settings in pyproject.toml's [tool.pylint.similarities]: runs of 9 or more similar lines)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Pairs of modules allowed to share code, each with the reason it stays: {frozenset({a, b}): reason}.
ALLOWED_DUPLICATES: dict[frozenset[str], str] = {}

_PLACE = re.compile(r"^==([\w.]+):\[(\d+):(\d+)\]$", re.MULTILINE)


def duplicate_pairs(path: Path, cwd: Path = REPO) -> list[tuple[frozenset[str], str]]:
    """(modules, pylint's message) for every run of similar lines pylint finds under ``path``."""
    command = [sys.executable, "-m", "pylint", "--rcfile", str(REPO / "pyproject.toml"), "--disable=all"]
    command += ["--enable=duplicate-code", "--output-format=json", str(path)]
    # No timeout: pylint takes ~2 min of CPU over the package, and a loaded machine stretched that past a
    # fixed limit once; .ci/run runs this file as its own step, after the suite.
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.stdout.strip().startswith("["), done.stderr  # pylint ran and reported (maybe nothing)
    return [
        (frozenset(module for module, _, _ in _PLACE.findall(m["message"])), m["message"])
        for m in json.loads(done.stdout)
        if m["symbol"] == "duplicate-code"
    ]


def test_the_package_has_no_duplicated_code_beyond_the_allowed_pairs():
    found = duplicate_pairs(REPO / "finr1_verl")
    unexpected = [message for modules, message in found if modules not in ALLOWED_DUPLICATES]
    assert not unexpected, "duplicated code (merge it, or allow the pair with a reason):\n\n" + "\n\n".join(
        unexpected
    )
    stale = set(ALLOWED_DUPLICATES) - {modules for modules, _ in found}
    assert not stale, f"allowed pairs that no longer share code (remove them): {stale}"


def test_the_check_finds_a_copied_function(tmp_path):
    body = "\n".join(f"    total = total * {i} + len(items[{i}:])" for i in range(10))
    function = "def {name}(items):\n    total = 0\n" + body + "\n    return total\n"
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text(function.format(name="first"))
    (package / "two.py").write_text(function.format(name="second"))
    (pair,) = duplicate_pairs(package, cwd=tmp_path)
    assert pair[0] == {"pkg.one", "pkg.two"}
