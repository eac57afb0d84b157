"""Which items a run scores: a seeded selection, pinned in an items file so a run repeats exactly.

Selection ranks every parsed example by a seeded 64-bit hash of its id (the data layer's
``stable_hash``) and keeps the lowest ranks — per benchmark, or per stratum with a largest-remainder
quota for a stratified fraction.  The result depends only on the data, the seed and the protocol,
never on file order or the Python process, and it is listed in rank order, so ``--limit N`` takes a
random N-item subset of the same selection.  The chosen ids are saved (``items.json``) with their
SHA-256; ``--items FILE`` reuses a saved list on the same or another machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from finr1_verl.data.decontaminate import ITEMS_KEY, items_file_benchmarks
from finr1_verl.data.mix import stable_hash
from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import Rejected
from finr1_verl.eval.benchmarks import Benchmark, EvalItem, eval_item, iter_parsed


@dataclass(frozen=True)
class Loaded:
    """A benchmark's items in selection order, with what the parser produced and rejected."""

    items: list[EvalItem]  # the ones scored: the first ``limit`` of the selection
    selected: list[str]  # the whole selection's ids (what the items file pins)
    parsed: int
    rejects: list[Rejected]


def ids_sha256(ids: list[str]) -> str:
    """The fingerprint of an ordered id list, recorded with every score."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def stratified_quota(sizes: dict[str, int], fraction: float) -> dict[str, int]:
    """Items per stratum: ``fraction`` of each, rounded so that they add up to ``fraction`` of all,
    and at least one of every non-empty stratum: a small file's subset keeps every kind of item
    (10% of 5 is one item per stratum, never an empty benchmark), at the cost of exceeding the
    fraction by at most one item per stratum."""
    exact = {name: fraction * size for name, size in sizes.items()}
    quota = {name: math.floor(value) for name, value in exact.items()}
    missing = math.floor(fraction * sum(sizes.values()) + 0.5) - sum(quota.values())
    by_remainder = sorted(sizes, key=lambda name: (quota[name] - exact[name], name))
    for name in by_remainder[:missing]:
        quota[name] += 1
    return {name: max(count, 1) if sizes[name] and fraction > 0 else count for name, count in quota.items()}


def select_ids(bench: Benchmark, keys: list[tuple[str, str]], seed: int) -> list[str]:
    """The selected ids, in rank order, from ``(id, stratum)`` pairs of every usable example."""
    salt = f"eval-{seed}"
    ranked = sorted((stable_hash(rid, salt), rid, stratum) for rid, stratum in keys)
    rule = bench.selection
    if rule.fraction is None:
        return [rid for _, rid, _ in ranked[: rule.count]]
    quota = stratified_quota(Counter(stratum for _, _, stratum in ranked), rule.fraction)
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for _, rid, stratum in ranked:
        if taken[stratum] < quota[stratum]:
            taken[stratum] += 1
            chosen.append(rid)
    return chosen


def load_items(
    bench: Benchmark, path: str | Path, seed: int, ids: list[str] | None = None, limit: int | None = None
) -> Loaded:
    """The benchmark's items: ``ids`` when given (an items file), else the seeded selection.

    Two passes over the files when selecting (ranks first, then the chosen examples), so only
    the selected examples are ever held in memory, however large the benchmark.
    """
    if ids is None:
        stratify = bench.selection.stratify
        keys = [
            (item.id, stratify(item) if stratify else "")
            for item in iter_parsed(bench, path)
            if isinstance(item, Example)
        ]
        ids = select_ids(bench, keys, seed)
    selected = ids
    if limit is not None:
        ids = ids[:limit]
    wanted, found, rejects, parsed = set(ids), {}, [], 0
    for item in iter_parsed(bench, path):
        if isinstance(item, Rejected):
            rejects.append(item)
            continue
        parsed += 1
        if item.id in wanted:
            found[item.id] = item
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise RecordError(
            path, missing[0], "id", f"{len(missing)} selected item id(s) of {bench.name} are not in the data"
        )
    return Loaded([eval_item(bench, found[rid]) for rid in ids], selected, parsed, rejects)


def write_items_file(
    path: Path, selected: dict[str, list[str]], texts: dict[str, list[dict[str, str]]] | None = None
) -> None:
    """Benchmark -> ids in rank order, each list with its hash (the summary records seed and protocol);
    with ``texts``, each benchmark also lists its items' id, question and document for decontamination."""
    payload = {
        "benchmarks": {
            name: {"ids": ids, "ids_sha256": ids_sha256(ids), **({ITEMS_KEY: texts[name]} if texts else {})}
            for name, ids in selected.items()
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_items_file(path: Path) -> dict[str, list[str]]:
    """Benchmark -> ids from an items file; a damaged file names the benchmark and field at fault."""
    benchmarks = items_file_benchmarks(path)
    selected = {}
    for name, entry in benchmarks.items():
        ids = entry.get("ids") if isinstance(entry, dict) else None
        if not isinstance(ids, list) or not all(isinstance(rid, str) for rid in ids):
            raise RecordError(path, name, "ids", "expected a list of item id strings")
        expected = entry.get("ids_sha256")
        if expected is not None and expected != ids_sha256(ids):
            raise RecordError(path, name, "ids_sha256", "does not match the listed ids (edited file?)")
        selected[name] = ids
    return selected
