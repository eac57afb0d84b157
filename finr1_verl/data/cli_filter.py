"""``finr1-data filter``: Fin-R1's two-stage judge filtering of distilled traces -> SFT and RL sets.

    finr1-data filter --traces distilled/ --judge-urls http://10.0.0.6:8000/v1 --out filtered/

Writes ``OUT/verdicts.jsonl`` (per sample: rule verdict or judge reply of stage A, the seven scores
of stage B, or an error with its stage and reason), ``OUT/sft/{train,val}.parquet`` (samples that
passed both stages, verl's SFT layout), ``OUT/rl/{train,val}.parquet`` (objective questions whose
traces all failed, verl's RL layout) and ``OUT/report.json``.  Safe to kill and to rerun: samples
with a verdict are skipped, errored ones are judged again.  Exit code 3 (incomplete) while samples
lack a verdict after judge faults (rerun to retry them), 2 on bad input.  Defaults: $FINR1_JUDGE_URLS
and $FINR1_JUDGE_MODEL (what scripts/serve_judge.sh prints); API key: $FINR1_JUDGE_API_KEY or
$OPENAI_API_KEY.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from finr1_verl.data.cli_options import add_endpoint_arguments, done_or_incomplete, endpoint_client
from finr1_verl.data.filter import FilterConfig, filter_traces, summary_table
from finr1_verl.data.quality import QualityJudge
from finr1_verl.data.records import RecordError
from finr1_verl.exitcodes import BAD_INPUT
from finr1_verl.llm.endpoints import role_env
from finr1_verl.reward.judge import AnswerJudge

# The name scripts/serve_judge.sh serves by default (and the GRPO recipe's judge_model).
DEFAULT_JUDGE = "Qwen/Qwen2.5-72B-Instruct"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "filter",
        help="two-stage judge filtering of distilled traces into SFT and RL sets (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--traces", type=Path, required=True, help="distill's output folder or its traces.jsonl"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (reuse it to resume)")
    judge = add_endpoint_arguments(
        parser,
        "judge",
        concurrency=64,
        # The judge role's timeout differs by command on purpose: here one client also rates whole
        # reasoning traces (up to ~36,000 characters of prompt, filter stage B), so a request's prefill
        # is many times that of an answer verdict (finr1-eval: 60 s; the GRPO reward: 30 s, so that a
        # slow judge cannot hold a training step).
        timeout=120.0,
        retries_help="retries after faults or unparseable verdicts",
    )
    judge.add_argument(
        "--judge-model",
        default=os.environ.get(role_env("judge").model) or DEFAULT_JUDGE,
        help=f"served model name (default $FINR1_JUDGE_MODEL, else {DEFAULT_JUDGE})",
    )
    parser.add_argument(
        "--structured-output",
        action="store_true",
        help="ask vLLM (>= 0.12) to constrain verdicts to the allowed replies",
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.05, help="share of questions in the val split (default 0.05)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    client = endpoint_client(args, "judge", args.judge_model)
    answer_judge = AnswerJudge(client, structured_output=args.structured_output)
    quality_judge = QualityJudge(client, structured_output=args.structured_output)
    config = FilterConfig(
        traces=args.traces, out=args.out, val_fraction=args.val_fraction, progress=not args.no_progress
    )
    try:
        report = filter_traces(config, answer_judge, quality_judge)
    except (RecordError, FileNotFoundError, RuntimeError) as err:
        print(f"finr1-data filter: {err}", file=sys.stderr)
        return BAD_INPUT
    print(summary_table(report))
    print(f"\nwrote {args.out}/verdicts.jsonl, {args.out}/sft, {args.out}/rl, {args.out}/report.json")
    errors = sum(s["answer"]["errors"] + s["reasoning"]["errors"] for s in report["sources"].values())
    return done_or_incomplete(errors, "sample(s) have no verdict (judge faults)")
