"""``prepare``: raw source files -> per-source RL/SFT parquet, the train/val mix, report.json, rejects.jsonl.

One pass per source, streaming: each parsed record is either rendered into rows (written to the
source's parquet at once, and to the mix directly or through the bounded hash-rank sample) or
written to ``rejects.jsonl`` with its reason; ``report.json`` counts both per source so that
read = written + rejected holds for every source.  A written record whose gold readings disagree
(:mod:`finr1_verl.data.golds`) keeps its authoritative reading; the dropped one is counted as
``conflicting_readings`` and listed in ``conflicts.jsonl`` (same line format as the rejects).
Sources are processed in name order and all choices are hash-based, so the same input and seed
give byte-identical parquet.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from finr1_verl import prompts
from finr1_verl.data.decontaminate import DEFAULT_NGRAM, REASONS, Decontaminator, EvalText
from finr1_verl.data.golds import CONFLICTING_READINGS, reconcile
from finr1_verl.data.mix import MIXES, HashRankSample, mix_kinds, mix_splits, quota, split_of
from finr1_verl.data.records import Example
from finr1_verl.data.rejects import RejectWriter
from finr1_verl.data.rows import RL_SCHEMA, SFT_SCHEMA, rl_row, sft_row
from finr1_verl.data.sources import Rejected, hub_parser_for, parser_for
from finr1_verl.data.sources.base import SPLIT_KINDS, UNKNOWN_SPLIT, UNLABELLED, split_kind
from finr1_verl.data.sources.hub import HubSpec
from finr1_verl.data.writer import BatchWriter
from finr1_verl.table import format_table

# Rejects that say nothing about the parse: records without gold, and decontamination's drops.
NOT_FAILURES = frozenset({UNLABELLED, *REASONS})
SPLITS = ("train", "val")


@dataclass(frozen=True)
class SourceInput:
    """One ``--source name=path`` (with an optional column mapping for the generic reader), or
    ``--source name=hf:ORG/NAME[:config][@revision]`` (``hub`` set).  ``split`` (``--split name=SPLIT``)
    is the upstream split of the source's files whose name tells none."""

    name: str
    path: Path
    columns: dict[str, str] | None = None
    hub: HubSpec | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        if self.split is not None and self.split not in SPLIT_KINDS:
            raise ValueError(
                f"--split {self.name}={self.split}: not a split name; use one of {', '.join(SPLIT_KINDS)}"
            )

    def parse(self):
        """The source's parsed items, with its named split given to records whose file tells none."""
        if self.hub is not None:
            items = hub_parser_for(self.name)(self.hub)
        else:
            items = parser_for(self.name, self.columns)(self.path)
        if self.split is None:
            return items
        return (
            replace(item, split=self.split)
            if isinstance(item, Example) and item.split == UNKNOWN_SPLIT
            else item
            for item in items
        )


@dataclass(frozen=True)
class PrepareConfig:
    out: Path
    mix: str = "fin-r1"
    seed: int = 0
    val_fraction: float = 0.05
    exclude_ids: frozenset[str] = frozenset()
    eval_items: tuple[EvalText, ...] = ()  # --exclude-from: decontaminate against these
    ngram: int = DEFAULT_NGRAM  # the n-gram rule's size (0: off)
    counts: dict[str, int] = field(default_factory=dict)
    include_dev: bool = False  # let dev/validation/eval-type upstream splits into the mix
    include_test: bool = False  # let test-type upstream splits into the mix
    max_reject_fraction: float = 0.5  # a source rejecting more of its labelled records fails the run
    progress: bool = True

    def __post_init__(self) -> None:
        if self.mix not in MIXES:
            raise ValueError(f"unknown mix {self.mix!r}; choose from {MIXES}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.max_reject_fraction <= 1.0:
            raise ValueError(f"max_reject_fraction must be in [0, 1], got {self.max_reject_fraction}")


@dataclass
class SourceStats:
    read: int = 0
    written: int = 0
    sft_rows: int = 0
    rejected: Counter = field(default_factory=Counter)
    conflicting_readings: int = 0
    splits: Counter = field(default_factory=Counter)
    upstream_splits: Counter = field(default_factory=Counter)
    kept_out_of_mix: Counter = field(default_factory=Counter)
    mixed: Counter = field(default_factory=Counter)
    quota: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "written": self.written,
            "sft_rows": self.sft_rows,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "conflicting_readings": self.conflicting_readings,
            "split": {split: self.splits[split] for split in SPLITS},
            "upstream_split": dict(sorted(self.upstream_splits.items())),
            "kept_out_of_mix": dict(sorted(self.kept_out_of_mix.items())),
            "mix_quota": self.quota,
            "mixed": {split: self.mixed[split] for split in SPLITS},
            "accounted": self.read == self.written + sum(self.rejected.values()),
        }


class MixWriters:
    """The mixed set: RL and SFT rows, one file per split.

    Sampled sources add their selected rows one by one; sources taken whole hand over each
    batch table their own writer already built (:meth:`rl_table`, :meth:`sft_table`), split by
    the ``extra_info.split`` / ``split`` value, so rows are converted to arrow once.  Rows whose
    upstream split (``extra_info.upstream_split``) is not of a ``kinds`` kind stay out.
    """

    def __init__(self, out: Path, kinds: frozenset[str]):
        self.splits = pa.array(mix_splits(kinds))
        self.rl = {split: BatchWriter(out / "rl" / f"{split}.parquet", RL_SCHEMA) for split in SPLITS}
        self.sft = {split: BatchWriter(out / "sft" / f"{split}.parquet", SFT_SCHEMA) for split in SPLITS}
        self.stats = SourceStats()

    def start(self, stats: SourceStats) -> None:
        """Route the following rows' counts to ``stats``; earlier rows are written first."""
        for writer in (*self.rl.values(), *self.sft.values()):
            writer.flush()
        self.stats = stats

    def add(self, split: str, rl: dict, sft: dict | None) -> None:
        self.rl[split].add(rl)
        if sft is not None:
            self.sft[split].add(sft)
        self.stats.mixed[split] += 1

    def rl_table(self, table: pa.Table) -> None:
        upstream = pc.struct_field(table["extra_info"], "upstream_split")
        table = table.filter(pc.is_in(upstream, self.splits))
        splits = pc.struct_field(table["extra_info"], "split")
        for split in SPLITS:
            part = table.filter(pc.equal(splits, split))
            if part.num_rows:
                self.rl[split].write_table(part)
                self.stats.mixed[split] += part.num_rows

    def sft_table(self, table: pa.Table, splits: list[str]) -> None:
        mask = pa.array(splits)
        for split in SPLITS:
            part = table.filter(pc.equal(mask, split))
            if part.num_rows:
                self.sft[split].write_table(part)

    def close(self) -> dict[str, int]:
        for writer in (*self.rl.values(), *self.sft.values()):
            writer.close()
        return {
            **{f"rl/{split}.parquet": self.rl[split].count for split in SPLITS},
            **{f"sft/{split}.parquet": self.sft[split].count for split in SPLITS},
        }


def write_exclude_ids(path: Path, ids: Iterable[str]) -> None:
    """An id list that ``--exclude-ids`` reads back (one ``source/id`` per line)."""
    path.write_text("".join(f"{rid}\n" for rid in ids), encoding="utf-8")


def read_exclude_ids(path: Path) -> frozenset[str]:
    """Ids to keep out (one per line, ``id`` or ``source/id``; blank lines and ``#`` comments skipped)."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def prepare(inputs: Iterable[SourceInput], config: PrepareConfig) -> dict[str, Any]:
    """Run the whole preparation; returns the report (also written to ``out/report.json``)."""
    inputs = sorted(inputs, key=lambda source: source.name)
    names = [source.name for source in inputs]
    if len(set(names)) != len(names):
        raise ValueError(f"each source may be given once (a folder holds several files): {names}")
    config.out.mkdir(parents=True, exist_ok=True)
    kinds = mix_kinds(config.include_dev, config.include_test)
    mix = MixWriters(config.out, kinds)
    decontaminate = (
        Decontaminator(config.eval_items, config.ngram, config.exclude_ids)
        if config.eval_items or config.exclude_ids
        else None
    )
    stats: dict[str, SourceStats] = {}
    with (
        RejectWriter(config.out / "rejects.jsonl") as rejects,
        RejectWriter(config.out / "conflicts.jsonl") as conflicts,
    ):
        for source in inputs:
            stats[source.name] = _prepare_source(
                source, config, kinds, decontaminate, mix, rejects, conflicts
            )
    outputs = mix.close()
    report = _report(inputs, config, stats, outputs)
    (config.out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return report


def decontaminated(item, decontaminate: Decontaminator | None, source: SourceInput):
    """``item``, or its reject when a decontamination rule drops it."""
    if decontaminate is None or not isinstance(item, Example):
        return item
    found = decontaminate.check(item)
    if found is None:
        return item
    return Rejected(source.name, str(source.hub or source.path), item.id, found[0], found[1], item.id)


def _prepare_source(
    source: SourceInput,
    config: PrepareConfig,
    kinds: frozenset[str],
    decontaminate: Decontaminator | None,
    mix: MixWriters,
    rejects,
    conflicts,
) -> SourceStats:
    stats = SourceStats(quota=quota(config.mix, source.name, config.counts))
    mix.start(stats)
    sample = HashRankSample(stats.quota, config.seed) if stats.quota is not None else None
    whole = sample is None
    sft_splits: list[str] = []  # the split of each SFT row in the writer's current batch

    def sft_to_mix(table: pa.Table) -> None:
        mix.sft_table(table, sft_splits[: table.num_rows])
        del sft_splits[: table.num_rows]

    folder = config.out / "sources" / source.name
    rl_out = BatchWriter(folder / "rl.parquet", RL_SCHEMA, also=mix.rl_table if whole else None)
    sft_out = BatchWriter(
        folder / "sft.parquet", SFT_SCHEMA, keep_empty=False, also=sft_to_mix if whole else None
    )
    items = source.parse()
    for item in tqdm(items, desc=source.name, unit=" rec", mininterval=1.0, disable=not config.progress):
        stats.read += 1
        item = decontaminated(item, decontaminate, source)
        if isinstance(item, Rejected):
            stats.rejected[item.reason] += 1
            rejects.write(item)
            continue
        item, conflict = reconcile(item)
        if conflict is not None:
            stats.conflicting_readings += 1
            line = Rejected(
                source.name, str(source.path), item.id, CONFLICTING_READINGS, conflict.detail(), item.id
            )
            conflicts.write(line)
        split = split_of(str(item.meta.get("group", item.id)), config.val_fraction)
        rl, sft = rl_row(item, stats.written, split), sft_row(item)
        stats.written += 1
        stats.splits[split] += 1
        stats.upstream_splits[item.split] += 1
        trains = split_kind(item.split) in kinds
        if not trains:
            stats.kept_out_of_mix[split_kind(item.split)] += 1
        rl_out.add(rl)
        if sft is not None:
            sft_splits.append(split if trains else "kept out")
            sft_out.add(sft)
            stats.sft_rows += 1
        if not whole and trains:
            sample.offer(item.id, (split, rl, sft))
    rl_out.close()
    sft_out.close()
    if not whole:
        for split, rl, sft in sample.selected():
            mix.add(split, rl, sft)
    return stats


def _report(
    inputs: list[SourceInput], config: PrepareConfig, stats: dict[str, SourceStats], outputs: dict[str, int]
) -> dict[str, Any]:
    per_source = {name: s.as_dict() for name, s in stats.items()}
    totals = {
        key: sum(s[key] for s in per_source.values())
        for key in ("read", "written", "rejected", "sft_rows", "conflicting_readings")
    }
    return {
        "config": {
            "sources": {source.name: str(source.hub or source.path) for source in inputs},
            "hub": {source.name: source.hub.report() for source in inputs if source.hub},
            "columns": {source.name: source.columns for source in inputs if source.columns},
            "mix": config.mix,
            "seed": config.seed,
            "val_fraction": config.val_fraction,
            "exclude_ids": len(config.exclude_ids),
            "exclude_from": len(config.eval_items),
            "decontaminate_ngram": config.ngram,
            "splits_named": {source.name: source.split for source in inputs if source.split},
            "include_dev": config.include_dev,
            "include_test": config.include_test,
            "max_reject_fraction": config.max_reject_fraction,
            "counts": config.counts,
        },
        "prompt_versions": {
            "system": prompts.SYSTEM_PROMPT_VERSION,
            "question": prompts.QUESTION_TEMPLATE_VERSION,
        },
        "sources": per_source,
        "totals": totals,
        "outputs": outputs,
        "failures": source_failures(per_source, config.max_reject_fraction),
        "unknown_splits": unknown_splits(per_source),
        "decontamination": {
            name: {r: n for r, n in s["rejected_by_reason"].items() if r in REASONS}
            for name, s in per_source.items()
        },
    }


def unknown_splits(per_source: dict[str, dict[str, Any]]) -> list[str]:
    """One line per source with records whose upstream split could not be told (kept out of the mix)."""
    return [
        f"{name}: {s['upstream_split'][UNKNOWN_SPLIT]} records from files whose name tells no split are kept"
        f" out of the mix; name it with --split {name}=SPLIT"
        for name, s in per_source.items()
        if s["upstream_split"].get(UNKNOWN_SPLIT)
    ]


def _top_reasons(rejected: dict[str, int]) -> str:
    ranked = sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return ", ".join(f"{reason} {count}" for reason, count in ranked) or "none"


def source_failures(per_source: dict[str, dict[str, Any]], max_reject_fraction: float) -> list[str]:
    """One line per source that wrote nothing or rejected more than ``max_reject_fraction`` of its
    labelled records (``unlabelled`` and ``excluded_id`` rejects do not count), with its top reasons."""
    failures = []
    for name, s in per_source.items():
        counted = {r: n for r, n in s["rejected_by_reason"].items() if r not in NOT_FAILURES}
        labelled = s["written"] + sum(counted.values())
        if s["written"] == 0:
            reasons = _top_reasons(s["rejected_by_reason"])
            failures.append(f"{name}: no row written from {s['read']} records; top reject reasons: {reasons}")
        elif sum(counted.values()) > max_reject_fraction * labelled:
            share = sum(counted.values()) / labelled
            failures.append(
                f"{name}: {share:.0%} of {labelled} labelled records rejected (limit {max_reject_fraction:.0%});"
                f" top reject reasons: {_top_reasons(counted)}"
            )
    return failures


def summary_table(report: dict[str, Any]) -> str:
    """The per-source counts as a plain-text table for the terminal."""
    header = [
        "source",
        "read",
        "written",
        "rejected",
        "conflicts",
        "val",
        "mix train",
        "mix val",
        "sft",
        "top reject reasons",
    ]
    rows = []
    for name, s in report["sources"].items():
        reasons = sorted(s["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        rows.append(
            [
                name,
                s["read"],
                s["written"],
                s["rejected"],
                s["conflicting_readings"],
                s["split"]["val"],
                s["mixed"]["train"],
                s["mixed"]["val"],
                s["sft_rows"],
                ", ".join(f"{r} {n}" for r, n in reasons),
            ]
        )
    t = report["totals"]
    mixed = report["outputs"]
    total = [
        "TOTAL",
        t["read"],
        t["written"],
        t["rejected"],
        t["conflicting_readings"],
        "",
        mixed["rl/train.parquet"],
        mixed["rl/val.parquet"],
        t["sft_rows"],
        "",
    ]
    return format_table(header, rows, total=total)
