"""``finr1-data prepare``: raw source files -> verl RL/SFT parquet, the mix, report.json, rejects.jsonl.

Sources come as repeated ``--source NAME=PATH`` (a file or a folder) or from a YAML/JSON spec::

    sources:
      finqa: ../shared/data/finqa/finqa_test_first100.json
      mydata: {path: my.jsonl, columns: {question: q, answer: a}}
      finance_instruct: hf:Josephgflowers/Finance-Instruct-500k@main   # streamed from the hub
    mix: fin-r1
    seed: 0

Relative paths in a spec are read from the spec's folder; command-line flags win over the spec.
A bad input file or path stops the run with the file, record and field named (exit code 2); bad
records only go to ``rejects.jsonl``.  A source that writes no row, or rejects more than
``--max-reject-fraction`` (default 0.5) of its labelled records (``unlabelled`` and
``excluded_id`` rejects do not count), makes the run exit 1 with its top reject reasons; the
outputs are written all the same.  The fin-r1 mix caps each source at Fin-R1's count (paper Table 3);
sources without a count there are taken whole unless ``--count`` sets one.  The mix takes training
splits only: items of dev-type upstream splits (``dev``, ``val``, ``valid``, ``validation``, ``eval``:
TFNS's ``sent_valid.csv``, FinCUGE's ``eval_list.json``) enter with ``--include-dev``, of test-type ones
(FinQA's ``test.json``, FinanceIQ's ``test/``, Fin-Eva's Ant files) with ``--include-test``; a file whose
name tells no split is ``unknown`` and stays out until ``--split NAME=SPLIT`` names it.  All are written
to the per-source parquet.  ``--exclude-from items.json`` (``finr1-eval select``) decontaminates:
evaluation items, records on their documents and questions sharing an n-gram with theirs are rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare, read_exclude_ids, summary_table
from finr1_verl.data.cli_options import add_source_arguments, bad_input, column_maps, name_value_pairs
from finr1_verl.data.decontaminate import DEFAULT_NGRAM, read_eval_texts
from finr1_verl.data.mix import MIXES
from finr1_verl.data.records import RecordError
from finr1_verl.data.sources.hub import HubSpec, is_hub
from finr1_verl.exitcodes import BAD_INPUT, DONE, FAILED


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="preprocess raw Fin-R1 sources into verl parquet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser, required=False)
    parser.add_argument("--spec", type=Path, help="YAML or JSON file with sources and options")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--mix", choices=MIXES, help="fin-r1: Fin-R1's per-source counts; all: everything")
    parser.add_argument("--seed", type=int, help="sampling seed for the mix (default 0)")
    parser.add_argument("--val-fraction", type=float, help="share of ids in the val split (default 0.05)")
    parser.add_argument(
        "--exclude-ids", type=Path, help="file of ids (or source/id) to keep out, one per line"
    )
    parser.add_argument(
        "--count", action="append", default=[], metavar="NAME=N", help="override a source's mix count"
    )
    parser.add_argument(
        "--include-dev",
        action="store_true",
        help="let items of dev/validation/eval-type upstream splits into the mix (default: train splits only)",
    )
    parser.add_argument(
        "--include-test",
        action="store_true",
        help="let items of test-type upstream splits into the mix (default: train splits only)",
    )
    parser.add_argument(
        "--max-reject-fraction",
        type=float,
        help="fail when a source rejects more than this share of its labelled records (default 0.5)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _load_spec(path: Path | None) -> dict:
    if path is None:
        return {}
    raw = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(raw) or {}
    return json.loads(raw)


def _inputs(args: argparse.Namespace, spec: dict) -> list[SourceInput]:
    base = args.spec.parent if args.spec else Path()
    sources: dict[str, dict] = {}
    for name, entry in (spec.get("sources") or {}).items():
        entry = dict(entry) if isinstance(entry, dict) else {"path": entry}
        if "path" in entry and not is_hub(entry["path"]):
            entry["path"] = base / entry["path"]
        sources[name] = entry
    for name, path in name_value_pairs(args.source, "--source"):
        sources[name] = {**sources.get(name, {}), "path": path}
    for name, columns in column_maps(args.columns).items():
        sources.setdefault(name, {})["columns"] = columns
    for name, split in name_value_pairs(args.split, "--split"):
        sources.setdefault(name, {})["split"] = split.lower()
    if not sources:
        bad_input("no source given: use --source NAME=PATH or a --spec file")
    missing = [name for name, entry in sources.items() if "path" not in entry]
    if missing:
        bad_input(f"no path for source(s) {missing}")
    return [
        SourceInput(
            name,
            Path(e["path"]),
            e.get("columns"),
            HubSpec.parse(str(e["path"])) if is_hub(e["path"]) else None,
            e.get("split"),
        )
        for name, e in sources.items()
    ]


def run(args: argparse.Namespace) -> int:
    try:
        out, report = _prepare(args)
    except (RecordError, OSError, ValueError, yaml.YAMLError) as err:
        print(f"finr1-data prepare: {err}", file=sys.stderr)
        return BAD_INPUT
    print(summary_table(report))
    print(f"\nwrote {out}/rl, {out}/sft, {out}/sources, {out}/report.json, {out}/rejects.jsonl")
    for line in report["unknown_splits"]:
        print(f"finr1-data prepare: {line}", file=sys.stderr)
    for failure in report["failures"]:
        print(f"finr1-data prepare: {failure}", file=sys.stderr)
    return FAILED if report["failures"] else DONE


def _prepare(args: argparse.Namespace) -> tuple[Path, dict]:
    spec = _load_spec(args.spec)
    base = args.spec.parent if args.spec else Path()
    out = args.out or (base / spec["out"] if "out" in spec else None)
    if out is None:
        bad_input("--out is required (or 'out' in the spec)")
    exclude_file = args.exclude_ids or (base / spec["exclude_ids"] if "exclude_ids" in spec else None)
    items_file = args.exclude_from or (base / spec["exclude_from"] if "exclude_from" in spec else None)
    ngram = args.decontaminate_ngram
    counts = {**(spec.get("counts") or {}), **{k: int(v) for k, v in name_value_pairs(args.count, "--count")}}
    config = PrepareConfig(
        out=out,
        mix=args.mix or spec.get("mix", "fin-r1"),
        seed=args.seed if args.seed is not None else int(spec.get("seed", 0)),
        val_fraction=args.val_fraction
        if args.val_fraction is not None
        else float(spec.get("val_fraction", 0.05)),
        exclude_ids=read_exclude_ids(exclude_file) if exclude_file else frozenset(),
        eval_items=tuple(read_eval_texts(items_file)) if items_file else (),
        ngram=ngram if ngram is not None else int(spec.get("decontaminate_ngram", DEFAULT_NGRAM)),
        counts=counts,
        include_dev=args.include_dev or bool(spec.get("include_dev", False)),
        include_test=args.include_test or bool(spec.get("include_test", False)),
        max_reject_fraction=args.max_reject_fraction
        if args.max_reject_fraction is not None
        else float(spec.get("max_reject_fraction", 0.5)),
        progress=not args.no_progress,
    )
    return out, prepare(_inputs(args, spec), config)
