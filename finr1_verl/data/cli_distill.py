"""``finr1-data distill``: reasoning traces from a teacher for every question of the given sources.

    finr1-data distill --source finqa=../shared/data/finqa/finqa_test_first100.json \\
        --teacher-urls http://10.0.0.5:8000/v1 --teacher-model deepseek-ai/DeepSeek-R1 --out distilled/

Writes ``OUT/traces.jsonl`` (one Fin-R1-Data record per question and sample, or an error record with
its reason), ``OUT/rejects.jsonl`` (records the parsers could not use) and ``OUT/report.json``.
Safe to kill at any moment and to rerun with the same command: finished samples are skipped,
errored ones are asked again, a torn last line is cut off.  Exit code 3 (incomplete) when samples
failed for good in this run (rerun to retry them), 2 on bad input.  Defaults: $FINR1_TEACHER_URLS,
$FINR1_TEACHER_MODEL; the API key comes from $FINR1_TEACHER_API_KEY or $OPENAI_API_KEY (vLLM accepts any).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from finr1_verl.data.build import SourceInput
from finr1_verl.data.cli_options import (
    add_endpoint_arguments,
    add_source_arguments,
    bad_input,
    column_maps,
    done_or_incomplete,
    endpoint_client,
    name_value_pairs,
)
from finr1_verl.data.decontaminate import DEFAULT_NGRAM, read_eval_texts
from finr1_verl.data.distill import FORCE_THINKING, DistillConfig, TeacherSettings, distill, summary_table
from finr1_verl.data.records import RecordError
from finr1_verl.exitcodes import BAD_INPUT
from finr1_verl.llm.endpoints import role_env


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = TeacherSettings()
    parser = subparsers.add_parser(
        "distill",
        help="distil reasoning traces from a teacher model (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output folder (reuse it to resume)")
    teacher = add_endpoint_arguments(
        parser,
        "teacher",
        concurrency=256,
        timeout=1800.0,
        retries_help="client retries after transport faults",
    )
    teacher.add_argument(
        "--teacher-model",
        default=os.environ.get(role_env("teacher").model) or defaults.model,
        help=f"served model name (default $FINR1_TEACHER_MODEL, else {defaults.model})",
    )
    parser.add_argument(
        "--samples", type=int, default=defaults.samples, help="traces per question, k (default 1)"
    )
    parser.add_argument(
        "--temperature", type=float, default=defaults.temperature, help="default 0.6 (Fin-R1)"
    )
    parser.add_argument("--top-p", type=float, default=None, help="default: the server's")
    parser.add_argument(
        "--max-tokens", type=int, default=defaults.max_tokens, help=f"default {defaults.max_tokens}"
    )
    parser.add_argument(
        "--force-thinking",
        choices=FORCE_THINKING,
        default=defaults.force_thinking,
        help="prefill: send an assistant '<think>\\n' prefix with continue_final_message (vLLM, SGLang); "
        "server: the server's template opens the thinking block (hosted APIs)",
    )
    parser.add_argument(
        "--reply-retries",
        type=int,
        default=defaults.reply_retries,
        help="fresh draws after a truncated reply or one without trace or answer (default 2)",
    )
    parser.add_argument(
        "--limit-per-source", type=int, default=None, help="only the first N questions of each source"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def parse_sources(sources: list[str], columns: list[str], splits: list[str] = ()) -> list[SourceInput]:
    """``--source NAME=PATH`` values with their ``--columns NAME:KEY=COL,...`` mappings and
    ``--split NAME=SPLIT`` names."""
    mappings = column_maps(columns)
    named = {name: split.lower() for name, split in name_value_pairs(list(splits), "--split")}
    pairs = name_value_pairs(sources, "--source")
    try:
        inputs = [
            SourceInput(name, Path(path), mappings.get(name), split=named.get(name)) for name, path in pairs
        ]
    except ValueError as err:
        bad_input(f"finr1-data distill: {err}")
    names = [source.name for source in inputs]
    if len(set(names)) != len(names):
        bad_input(f"each source may be given once (a folder holds several files): {names}")
    return inputs


def run(args: argparse.Namespace) -> int:
    try:
        teacher = TeacherSettings(
            model=args.teacher_model,
            samples=args.samples,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            top_p=args.top_p,
            force_thinking=args.force_thinking,
            reply_retries=args.reply_retries,
        )
    except ValueError as err:
        bad_input(f"finr1-data distill: {err}")
    client = endpoint_client(
        args,
        "teacher",
        args.teacher_model,
        cache_size=0,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=None,
    )
    try:
        config = DistillConfig(
            out=args.out,
            teacher=teacher,
            limit_per_source=args.limit_per_source,
            progress=not args.no_progress,
            eval_items=tuple(read_eval_texts(args.exclude_from)) if args.exclude_from else (),
            ngram=DEFAULT_NGRAM if args.decontaminate_ngram is None else args.decontaminate_ngram,
        )
        report = distill(parse_sources(args.source, args.columns, args.split), client, config)
    except (RecordError, FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"finr1-data distill: {err}", file=sys.stderr)
        return BAD_INPUT
    print(summary_table(report))
    print(f"\nwrote {args.out / 'traces.jsonl'}, {args.out / 'rejects.jsonl'}, {args.out / 'report.json'}")
    errors = sum(source["errors"] for source in report["sources"].values())
    return done_or_incomplete(errors, "sample(s) failed (see their error records)")
