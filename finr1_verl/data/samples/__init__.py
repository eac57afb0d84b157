"""A tiny sample of every Fin-R1 source in its upstream schema, shipped for CPU smoke runs.

``SPEC`` is a ``finr1-data prepare --spec`` file that lists them all.
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).resolve().parent
SPEC = DIR / "prepare.yaml"
