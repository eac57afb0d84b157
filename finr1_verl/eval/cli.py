"""``finr1-eval``: Fin-R1's benchmarks for a checkpoint or an endpoint, with the paper's protocol.

Subcommands:

* ``run`` — select items, generate, score, report (resumable: rerun the same command)::

    finr1-eval run --bench finqa=data/finqa/test.json --bench tfns=data/tfns/sent_valid.csv \\
        --model /ckpt/fin-r1-hf                              # vLLM offline on this node's GPUs
    finr1-eval run --bench tfns=... --model runs/grpo/global_step_2/actor/huggingface --backend hf  # transformers
    finr1-eval run --bench ... --model Fin-R1 --model-urls http://node:8000/v1 \\
        --judge-urls http://judge:8000/v1 --judge-model Qwen/Qwen2.5-72B-Instruct --out runs/fin-r1
    finr1-eval run --paper --bench ... --model ... --judge-urls ...   # the paper's protocol, judge on every answer

* ``select`` — only choose the items and write the items file (to pin them before any run)::

    finr1-eval select --bench finqa=... --bench convfinqa=... --seed 0 --out items.json

Exit codes (:mod:`finr1_verl.exitcodes`): 0 done; 2 bad input or settings (the message names the
file, record and field; benchmark files, the items file and a local model folder are checked before
any model is loaded); 3 incomplete: some items could not be generated (they count as wrong;
rerun the command to retry them).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from finr1_verl.data.build import write_exclude_ids
from finr1_verl.data.cli_options import add_endpoint_arguments, bad_input, done_or_incomplete
from finr1_verl.data.decontaminate import eval_text
from finr1_verl.data.records import Example
from finr1_verl.eval.benchmarks import BENCHMARKS, benchmark, iter_parsed
from finr1_verl.eval.checkpoint import resolve_model
from finr1_verl.eval.generate import EndpointBackend, HFBackend, Sampling, VLLMBackend
from finr1_verl.eval.items import load_items, write_items_file
from finr1_verl.eval.report import markdown
from finr1_verl.eval.runner import EvalConfig, prepare_items, run_eval
from finr1_verl.eval.score import EVAL_SCORING
from finr1_verl.exitcodes import BAD_INPUT, DONE
from finr1_verl.reward.guard import MAX_FINAL_ANSWER_CHARS
from finr1_verl.reward.judge import AnswerJudge
from finr1_verl.reward.score import MODES, ScoreSettings, close_judges, judge_for


def _bench_paths(values: list[str]) -> dict[str, Path]:
    paths = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not path:
            bad_input(f"--bench expects NAME=PATH, got {value!r}; names: {', '.join(BENCHMARKS)}")
        benchmark(name.strip())
        paths[name.strip()] = Path(path.strip())
        if not paths[name.strip()].exists():
            raise FileNotFoundError(f"--bench {value}: no such file or directory")
    if not paths:
        bad_input(f"give at least one --bench NAME=PATH; names: {', '.join(BENCHMARKS)}")
    return paths


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bench",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"a benchmark and its local file or folder; names: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="item selection and sampling seed (default 0)")
    parser.add_argument("--limit", type=int, help="items per benchmark: a random subset of the selection")


# Fin-R1's evaluation protocol (paper §5): sampling, every selected item (1,000 seeded per benchmark,
# 10% stratified of Finance-Instruct-500K: no --limit) and the judge on every answer.
PAPER_PROTOCOL = {
    "temperature": 0.6,
    "top_p": 0.95,
    "max_tokens": 4096,
    "limit": None,
    "judge_mode": "always",
}


def apply_paper_protocol(args: argparse.Namespace) -> None:
    """``--paper``: the paper's settings; an option given beside it that says otherwise is refused."""
    for name, value in PAPER_PROTOCOL.items():
        if getattr(args, name) not in (None, value):
            flag = f"--{name.replace('_', '-')}"
            raise ValueError(f"--paper sets {flag} {value}; drop {flag} or --paper")
        setattr(args, name, value)
    if not args.judge_urls:
        raise ValueError(
            "--paper judges every answer (judge mode always): give --judge-urls (or $FINR1_JUDGE_URLS)"
        )


def add_run_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="generate, score and report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_selection(parser)
    parser.add_argument(
        "--items", type=Path, help="items file of an earlier run (items.json) to score the same ids"
    )
    parser.add_argument("--out", type=Path, default=Path("eval_out"), help="output folder (resumable)")
    model = parser.add_argument_group("model under test")
    model.add_argument(
        "--model",
        required=True,
        help="served model name, local HF folder, or verl FSDP checkpoint folder (exported once with verl's model merger)",
    )
    model.add_argument(
        "--backend",
        choices=("vllm", "hf"),
        default="vllm",
        help="local checkpoint: vllm (GPUs, default) or hf (transformers, for small models and CPU)",
    )
    model.add_argument(
        "--batch-size", type=int, default=8, help="prompts per transformers generate call (hf)"
    )
    model.add_argument("--label", help="the new row's name in the report (default: --model)")
    model.add_argument("--temperature", type=float, default=Sampling.temperature)
    model.add_argument("--top-p", type=float, default=Sampling.top_p)
    model.add_argument("--max-tokens", type=int, default=Sampling.max_tokens)
    model.add_argument("--top-k", type=int, default=Sampling.top_k, help="-1: disabled (default)")
    model.add_argument("--repetition-penalty", type=float, default=Sampling.repetition_penalty)
    model.add_argument(
        "--paper",
        action="store_true",
        help="Fin-R1's protocol: temperature 0.6, top_p 0.95, 4096 tokens, every seeded item, judge mode always",
    )
    model.add_argument("--tensor-parallel-size", type=int, default=1, help="vLLM offline")
    model.add_argument("--max-model-len", type=int, help="vLLM offline context length")
    add_endpoint_arguments(
        parser,
        "model",
        concurrency=256,  # vLLM's default max_num_seqs: one server's whole batch
        timeout=900.0,
        retries_help="retries per request after faults",
        env=False,
        description="the model under test behind OpenAI-compatible URLs; omit --model-urls for vLLM offline",
    )
    judge = add_endpoint_arguments(
        parser,
        "judge",
        concurrency=64,
        # Answer verdicts as in the GRPO reward (30 s there), but no training step waits here and a
        # timed-out item counts as a judge error in the reported score: twice the reward's budget
        # (finr1-data filter: 120 s, for whole traces).
        timeout=60.0,
        retries_help="retries after faults or unparseable verdicts",
    )
    judge.add_argument("--judge-model", help="judge model name (default $FINR1_JUDGE_MODEL)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument(
        "--judge-mode",
        choices=MODES,
        help="rule_first: judge only what rules cannot decide; always: judge every answer (Fin-R1); "
        "never: rules only (default: rule_first with a judge, never without)",
    )
    scoring.add_argument(
        "--structured-output", action="store_true", help="vLLM judge: restrict replies to the verdicts"
    )
    scoring.add_argument("--strict-extraction", action="store_true", help="only the <answer> block counts")
    scoring.add_argument(
        "--think-in-prompt", action="store_true", help="the chat template opens <think> itself"
    )
    scoring.add_argument(
        "--max-answer-chars",
        type=int,
        default=MAX_FINAL_ANSWER_CHARS,
        help=f"longer final answers score 0 and are never judged (default {MAX_FINAL_ANSWER_CHARS}, as in training)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress output (bars show on a terminal, a line per 50 items otherwise)",
    )
    parser.set_defaults(func=run)


def add_select_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("select", help="write the items file only")
    _add_selection(parser)
    parser.add_argument("--out", type=Path, default=Path("items.json"), help="items file to write")
    parser.set_defaults(func=select)


def _scoring(args: argparse.Namespace) -> tuple[ScoreSettings, AnswerJudge | None]:
    """The scoring settings and the judge (the reward's own, so both share one client per settings)."""
    mode = args.judge_mode or ("rule_first" if args.judge_urls else "never")
    settings = ScoreSettings.from_kwargs(
        {
            "mode": mode,
            "lenient": not args.strict_extraction,
            "think_in_prompt": args.think_in_prompt,
            "judge_urls": args.judge_urls,
            "judge_model": args.judge_model,
            "timeout": args.judge_timeout,
            "max_retries": args.judge_retries,
            "max_concurrency": args.judge_concurrency,
            "structured_output": args.structured_output,
            "max_answer_chars": args.max_answer_chars,
            # No training step waits on an evaluation: every attempt, and the longest wait a 429 may
            # ask for between them (the client's max_retry_after_s), fits before the deadline.
            "judge_deadline_s": args.judge_timeout * (args.judge_retries + 1) + 30.0 * args.judge_retries,
            "judge_any_shape": EVAL_SCORING.judge_any_shape,
        }
    )
    return settings, None if mode == "never" else judge_for(settings.judge)


def check_model(args: argparse.Namespace) -> str:
    """The local model to load (a folder, a verl checkpoint, or a Hub name), checked before loading it."""
    if args.model_urls:
        return args.model
    path = Path(args.model).expanduser()
    looks_local = path.is_absolute() or args.model.startswith((".", "~")) or args.model.count("/") > 1
    if looks_local and not path.is_dir():
        raise FileNotFoundError(
            f"--model {args.model}: no such model folder (or give --model-urls for a served model)"
        )
    return resolve_model(args.model)


def make_backend(args: argparse.Namespace, model: str, sampling: Sampling):
    if args.model_urls:
        return EndpointBackend(
            args.model_urls,
            model,
            sampling,
            concurrency=args.model_concurrency,
            timeout_s=args.model_timeout,
            max_retries=args.model_retries,
        )
    if args.backend == "hf":
        return HFBackend(model, sampling, batch_size=args.batch_size)
    return VLLMBackend(
        model,
        sampling,
        tensor_parallel_size=args.tensor_parallel_size,
        max_model_len=args.max_model_len,
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.paper:
            apply_paper_protocol(args)
        data = _bench_paths(args.bench)
        scoring, judge = _scoring(args)
        sampling = Sampling(
            args.temperature, args.top_p, args.max_tokens, args.seed, args.top_k, args.repetition_penalty
        )
        config = EvalConfig(
            data=data,
            out=args.out,
            seed=args.seed,
            limit=args.limit,
            items_file=args.items,
            scoring=scoring,
            label=args.label,
            command=args.command_line,
            progress=not args.no_progress,
        )
        loaded = prepare_items(config)  # every benchmark file read before a model is loaded
        backend = make_backend(args, check_model(args), sampling)

        async def evaluate() -> dict:
            try:
                return await run_eval(config, backend, judge, loaded)
            finally:
                await close_judges()

        summary = asyncio.run(evaluate())
    except (ValueError, RuntimeError, FileNotFoundError) as err:  # RecordError, RunMismatch are ValueErrors
        print(f"finr1-eval: {err}", file=sys.stderr)
        return BAD_INPUT
    print(markdown(summary))
    print(f"wrote {args.out}/results.json, samples_*.jsonl, report.md, report.png and items/*.jsonl")
    failed = sum(b["generation_errors"] for b in summary["benchmarks"].values())
    return done_or_incomplete(failed, "items could not be generated")


def select(args: argparse.Namespace) -> int:
    try:
        selected = {
            name: [item.id for item in load_items(benchmark(name), path, args.seed, limit=args.limit).items]
            for name, path in _bench_paths(args.bench).items()
        }
    except (ValueError, FileNotFoundError) as err:
        print(f"finr1-eval: {err}", file=sys.stderr)
        return BAD_INPUT
    write_items_file(args.out, selected, _eval_texts(selected, _bench_paths(args.bench)))
    exclude = args.out.with_suffix(".exclude-ids.txt")
    write_exclude_ids(exclude, (f"{benchmark(n).source}/{rid}" for n, ids in selected.items() for rid in ids))
    for name, ids in selected.items():
        print(f"{name}: {len(ids)} items")
    print(f"wrote {args.out} (for finr1-data prepare --exclude-from) and {exclude} (for --exclude-ids)")
    return DONE


def _eval_texts(selected: dict[str, list[str]], paths: dict[str, Path]) -> dict[str, list[dict[str, str]]]:
    """Per benchmark, each selected item's id, question and document key, in selection order: what
    ``finr1-data prepare --exclude-from`` decontaminates against."""
    texts = {}
    for name, ids in selected.items():
        wanted = set(ids)
        found = {
            e.id: e
            for e in iter_parsed(benchmark(name), paths[name])
            if isinstance(e, Example) and e.id in wanted
        }
        texts[name] = [eval_text(found[rid]).as_dict() for rid in ids]
    return texts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finr1-eval", description="Fin-R1 benchmarks for verl checkpoints.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_run_parser(subparsers)
    add_select_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["finr1-eval", *argv])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
