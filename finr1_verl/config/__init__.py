"""Hydra configs for verl's trainers, shipped inside the package so a pip install has them.

The launch scripts pass ``--config-path`` as :data:`CONFIG_DIR`; each YAML extends verl's own
configs through ``hydra.searchpath: [pkg://verl.trainer.config]``.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR: Path = Path(__file__).resolve().parent
