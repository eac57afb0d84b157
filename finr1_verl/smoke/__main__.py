"""``python -m finr1_verl.smoke``: what the recipe scripts' ``--smoke`` flag asks for.

env                      shell ``export`` lines for the CPU platform
overrides sft|grpo       the smoke run's Hydra overrides, one per line
data OUT                 the shipped data sample prepared into OUT (``finr1-data prepare``)
model OUT [--rl PARQUET] a tiny Qwen2 in OUT; with --rl, trained briefly on the answer format
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from finr1_verl.smoke.launch import CPU_ENV, smoke_overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finr1_verl.smoke", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="export lines for the CPU platform shim")
    over = sub.add_parser("overrides", help="Hydra overrides of a smoke run, one per line")
    over.add_argument("kind", choices=["sft", "grpo"])
    data = sub.add_parser("data", help="prepare the shipped data sample")
    data.add_argument("out", type=Path)
    model = sub.add_parser("model", help="write a tiny Qwen2 (+ answer-format training with --rl)")
    model.add_argument("out", type=Path)
    model.add_argument(
        "--rl", type=Path, help="RL parquet whose prompts the model learns to answer in format"
    )
    args = parser.parse_args(argv)
    if args.command == "env":
        print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in CPU_ENV.items()))
    elif args.command == "overrides":
        print("\n".join(smoke_overrides(args.kind)))
    elif args.command == "data":
        from finr1_verl.data.cli import main as data_main
        from finr1_verl.data.samples import SPEC

        return data_main(["prepare", "--spec", str(SPEC), "--out", str(args.out)]) or 0
    else:
        from finr1_verl.smoke.format_model import build_format_model
        from finr1_verl.smoke.tiny_model import build_tiny_qwen2

        print(build_format_model(args.out, args.rl) if args.rl else build_tiny_qwen2(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
