"""Deterministic split and sampling by hashing ids: no random state, no second pass, bounded memory.

The train/val split hashes the record's group (the conversation id for ConvFinQA turns, else the
id) without the seed, so changing the sampling seed never moves an item between train and val.
Sampling keeps, per source, the ``count`` records with the smallest seeded hash ("select by hash
rank"): the same input and seed always select the same records, in the same order, whatever the
file order, and only ``count`` rows are held in memory.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Any

from finr1_verl.data.sources.base import SPLIT_KINDS

# Fin-R1's kept samples per source (paper v5 Table 3); the "fin-r1" mix caps each source at these.
FIN_R1_COUNTS: dict[str, int] = {
    "fincorpus": 29_288,
    "finance_instruct": 11_300,
    "convfinqa": 7_629,
    "finqa": 2_948,
    "financeiq": 2_596,
    "tfns": 2_451,
    "fincuge": 2_000,
    "ant_fineva": 1_548,
    "finpee": 179,
    "financeqt": 152,
}
MIXES = ("fin-r1", "all")


def mix_kinds(include_dev: bool, include_test: bool) -> frozenset[str]:
    """The kinds of upstream split (:func:`~finr1_verl.data.sources.base.split_kind`) the mix takes:
    training splits always; dev / validation / eval splits (often the public evaluation set, as
    TFNS's ``sent_valid.csv`` or FinCUGE's ``eval_list.json``) only when asked, test splits likewise.
    A split that could not be told (``unknown``) never enters: the user names it (``--split``)."""
    return frozenset({"train"} | ({"dev"} if include_dev else set()) | ({"test"} if include_test else set()))


def mix_splits(kinds: frozenset[str]) -> list[str]:
    """Every upstream split name of those kinds."""
    return sorted(name for name, kind in SPLIT_KINDS.items() if kind in kinds)


def stable_hash(key: str, salt: str = "") -> int:
    """A 64-bit hash of ``salt:key`` that is the same on every machine and Python run."""
    return int.from_bytes(hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest(), "big")


def split_of(group: str, val_fraction: float) -> str:
    """'val' for a stable ``val_fraction`` share of groups, else 'train'."""
    return "val" if stable_hash(group, "split") < val_fraction * 2**64 else "train"


def quota(mix: str, source: str, overrides: dict[str, int]) -> int | None:
    """How many records of ``source`` the mix keeps (None = all of them)."""
    if source in overrides:
        return overrides[source]
    return FIN_R1_COUNTS.get(source) if mix == "fin-r1" else None


class HashRankSample:
    """Keeps the ``count`` items with the smallest seeded hash of their key."""

    def __init__(self, count: int, seed: int):
        self.count, self.salt = count, f"sample-{seed}"
        self._heap: list[tuple[int, str, Any]] = []  # max-heap by negated hash

    def offer(self, key: str, item: Any) -> None:
        if self.count <= 0:
            return
        rank = stable_hash(key, self.salt)
        if len(self._heap) < self.count:
            heapq.heappush(self._heap, (-rank, key, item))
        elif -self._heap[0][0] > rank:
            heapq.heapreplace(self._heap, (-rank, key, item))

    def selected(self) -> list[Any]:
        """The kept items, ordered by hash rank (a deterministic shuffle)."""
        return [item for _, _, item in sorted(self._heap, key=lambda entry: (-entry[0], entry[1]))]
