"""``finr1-recipe``: launch the training recipes, or compose, validate, check and explain them.

    finr1-recipe launch RECIPE [--smoke] [--dry-run] [--from-base] [hydra overrides...]  # what recipes/*.sh run
    finr1-recipe doctor RECIPE [--smoke] [--from-base] [hydra overrides...]   # preflight, one line per check
    finr1-recipe dry-run RECIPE [--smoke] [--from-base] [hydra overrides...]  # the plan, "would run", the same checks
    finr1-recipe config-dir                                                   # the installed config directory

``doctor`` and ``dry-run`` compose the recipe exactly as verl will and validate it against the installed
verl (``validate_config`` for GRPO, the engine/optimizer/checkpoint dataclasses for SFT), refuse legacy
top-level reward keys that verl 0.9 ignores, then run :mod:`finr1_verl.doctor`'s checks.  ``launch``
(``recipes/run_fin_r1_*.sh``) turns the environment below into Hydra overrides placed before the
command line's, runs ``doctor`` and refuses to start on a failure (``FINR1_SKIP_CHECKS=1`` overrides
it, with a warning), then replaces itself with the trainer: ``torchrun -m verl.trainer.sft_trainer``
for SFT, ``python -m verl.trainer.main_ppo`` for GRPO.  ``launch --dry-run`` prints that very command
(``would run``) and starts nothing.  ``--from-base`` (or ``FINR1_FROM_BASE=1``) allows GRPO from the
base model; ``--smoke`` runs 2 steps at tiny sizes on CPU (:mod:`finr1_verl.smoke`, asked through
``python -m finr1_verl.smoke``): the CPU platform's environment and overrides, the sample data and a
tiny model unless DATA_DIR / MODEL_PATH are given, a rules-only reward unless FINR1_JUDGE_URLS is set.
Exit codes: :mod:`finr1_verl.exitcodes`.

Launch environment (all optional):

    MODEL_PATH        model to train (SFT: base model; GRPO: the SFT checkpoint's huggingface/ folder)
    DATA_DIR          output of `finr1-data prepare|filter` (sft/{train,val}.parquet or rl/{train,val}.parquet)
    SAVE_DIR          checkpoint folder (trainer.default_local_dir)
    NNODES, N_GPUS_PER_NODE   cluster shape (trainer.nnodes / trainer.n_gpus_per_node; torchrun's too)
    NODE_RANK, MASTER_ADDR, MASTER_PORT   torchrun rendezvous for multi-node SFT (launch on every node);
                      one node without MASTER_PORT uses torchrun --standalone (a free local port)
    RAY_ADDRESS       GRPO on an existing Ray cluster (verl's ray.init connects to it)
    JUDGE             GRPO judge placement: external (default) or verl_hosted
    FINR1_JUDGE_URLS  comma-separated judge base URLs (external placement), e.g. from scripts/serve_judge.sh
    FINR1_JUDGE_MODEL judge model name as served; JUDGE_MODEL_PATH the judge verl hosts (verl_hosted)
    SMOKE_DIR         --smoke only: where the sample data, the tiny model and the checkpoints go (runs/smoke)
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from finr1_verl import cost, doctor, exitcodes, preflight
from finr1_verl.config import CONFIG_DIR
from finr1_verl.table import format_table

logger = logging.getLogger("finr1_verl.recipes")

# verl 0.9 still composes these top-level sections (legacy_reward_impl.yaml) but main_ppo ignores
# them: a value set there silently trains with verl's default scorer.
LEGACY_REWARD_SECTIONS = ("custom_reward_function", "reward_model", "sandbox_fusion")


@dataclass(frozen=True)
class Recipe:
    """One launchable recipe: its YAML, its trainer kind, the verl entry point and the training engine."""

    config_name: str
    kind: str  # "sft" (torchrun -m verl.trainer.sft_trainer) or "grpo" (python -m verl.trainer.main_ppo)
    entry: str
    engine: str  # "fsdp" or "megatron": which verl extras the GPU stack needs


RECIPES: dict[str, Recipe] = {
    "sft": Recipe("fin_r1_sft", "sft", "verl.trainer.sft_trainer", "fsdp"),
    "sft_megatron": Recipe("fin_r1_sft_megatron", "sft", "verl.trainer.sft_trainer", "megatron"),
    "grpo": Recipe("fin_r1_grpo", "grpo", "verl.trainer.main_ppo", "fsdp"),
    "grpo_megatron": Recipe("fin_r1_grpo_megatron", "grpo", "verl.trainer.main_ppo", "megatron"),
}


class RecipeError(ValueError):
    """A recipe that would not run as asked: names the setting and what is wrong with it."""


def compose_recipe(name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config verl will see for ``recipes/run_fin_r1_<name>.sh`` with these Hydra overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    recipe = RECIPES[name]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=recipe.config_name, overrides=list(overrides or []))


def legacy_reward_keys(cfg: DictConfig) -> list[str]:
    """Dotted names of legacy top-level reward keys that carry a value (verl 0.9 ignores them)."""
    found: list[str] = []

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}")
        elif node is not None:
            found.append(prefix)

    for section in LEGACY_REWARD_SECTIONS:
        if section in cfg:
            walk(OmegaConf.to_container(cfg[section], resolve=False), section)
    return found


def validate_recipe(name: str, cfg: DictConfig) -> None:
    """Run verl's own checks on a composed recipe; raise :class:`RecipeError` on the first problem."""
    from verl.utils.config import omega_conf_to_dataclass

    legacy = legacy_reward_keys(cfg)
    if legacy:
        raise RecipeError(
            f"legacy reward keys {legacy} are ignored by verl 0.9's main_ppo: set reward.custom_reward_function.* "
            "/ reward.reward_model.* instead"
        )
    if RECIPES[name].kind == "sft":
        for section in ("engine", "optim", "checkpoint"):
            try:
                omega_conf_to_dataclass(cfg[section])
            except Exception as exc:
                raise RecipeError(f"{section}: {exc}") from exc
        dp_size = cfg.trainer.nnodes * cfg.trainer.n_gpus_per_node
        if cfg.data.train_batch_size % dp_size:
            raise RecipeError(
                f"data.train_batch_size={cfg.data.train_batch_size} is not divisible by the "
                f"{dp_size} GPUs (trainer.nnodes x trainer.n_gpus_per_node)"
            )
        if cfg.data.use_dynamic_bsz and cfg.data.max_token_len_per_gpu < cfg.data.max_length:
            raise RecipeError("data.max_token_len_per_gpu must be >= data.max_length with dynamic batching")
        return
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    sections = ["actor_rollout_ref.actor", "actor_rollout_ref.rollout", "algorithm"]
    if cfg.reward.reward_model.enable:
        sections.append("reward.reward_model")
    try:
        validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        for section in sections:
            omega_conf_to_dataclass(OmegaConf.select(cfg, section))
    except Exception as exc:
        raise RecipeError(str(exc)) from exc
    arr, n_gpus = cfg.actor_rollout_ref, cfg.trainer.nnodes * cfg.trainer.n_gpus_per_node
    if cfg.data.train_batch_size % arr.actor.ppo_mini_batch_size:
        raise RecipeError(
            f"data.train_batch_size={cfg.data.train_batch_size} is not a multiple of "
            f"actor_rollout_ref.actor.ppo_mini_batch_size={arr.actor.ppo_mini_batch_size}"
        )
    if n_gpus % arr.rollout.tensor_model_parallel_size:
        raise RecipeError(
            f"{n_gpus} GPUs cannot hold vLLM replicas of tensor_model_parallel_size={arr.rollout.tensor_model_parallel_size}"
        )
    manager = cfg.reward.reward_manager
    if manager.source == "register" and manager.name not in REWARD_MANAGER:
        raise RecipeError(
            f"reward.reward_manager.name={manager.name!r} is not one of {sorted(REWARD_MANAGER)}"
        )
    if not cfg.reward.custom_reward_function.get("path"):
        raise RecipeError("reward.custom_reward_function.path is empty: verl would use its default scorer")


def _model_path(cfg: DictConfig) -> str:
    model = cfg.model if "model" in cfg and "path" in cfg.model else cfg.actor_rollout_ref.model
    return str(model.path)


def _key_settings(name: str, cfg: DictConfig) -> list[tuple[str, object]]:
    if RECIPES[name].kind == "sft":
        return [
            ("engine", cfg.engine.strategy if "strategy" in cfg.engine else "megatron"),
            ("optim.lr", cfg.optim.lr),
            ("data.train_batch_size", cfg.data.train_batch_size),
            ("data.max_length", cfg.data.max_length),
            ("data.use_dynamic_bsz", cfg.data.use_dynamic_bsz),
            ("trainer.total_epochs", cfg.trainer.total_epochs),
        ]
    arr = cfg.actor_rollout_ref
    kwargs = cfg.reward.custom_reward_function.get("reward_kwargs", {})
    return [
        ("algorithm.adv_estimator", cfg.algorithm.adv_estimator),
        ("actor.strategy", arr.actor.strategy),
        ("actor.optim.lr", arr.actor.optim.lr),
        (
            "data.train_batch_size / ppo_mini_batch_size",
            f"{cfg.data.train_batch_size} / {arr.actor.ppo_mini_batch_size}",
        ),
        ("prompt / response length", f"{cfg.data.max_prompt_length} / {cfg.data.max_response_length}"),
        (
            "rollout",
            f"{arr.rollout.name} n={arr.rollout.n} T={arr.rollout.temperature} top_p={arr.rollout.top_p}",
        ),
        ("KL loss", f"{arr.actor.use_kl_loss} beta={arr.actor.kl_loss_coef} ({arr.actor.kl_loss_type})"),
        ("reward", f"{cfg.reward.custom_reward_function.path}:{cfg.reward.custom_reward_function.name}"),
        ("reward manager / workers", f"{cfg.reward.reward_manager.name} / {cfg.reward.num_workers}"),
        (
            "reward mode / weights",
            f"{kwargs.get('mode')} / {kwargs.get('format_weight')}+{kwargs.get('accuracy_weight')}",
        ),
        (
            "judge",
            "verl-hosted " + str(cfg.reward.reward_model.model_path)
            if cfg.reward.reward_model.enable
            else "external",
        ),
        ("trainer.total_epochs", cfg.trainer.total_epochs),
    ]


def trainer_argv(name: str, cfg: DictConfig, overrides: list[str], environ: Mapping[str, str]) -> list[str]:
    """The trainer command ``launch`` runs (and ``dry-run`` shows): torchrun's shape is the config's."""
    recipe = RECIPES[name]
    config = [f"--config-path={CONFIG_DIR}", f"--config-name={recipe.config_name}", *overrides]
    # This interpreter (the project's venv), never whatever `python` is first on PATH.
    if recipe.kind == "grpo":
        return [sys.executable, "-m", recipe.entry, *config]
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    nproc = f"--nproc_per_node={cfg.trainer.n_gpus_per_node}"
    if cfg.trainer.nnodes == 1 and not environ.get("MASTER_PORT"):
        # one node: torchrun's standalone rendezvous picks a free local port (a fixed 29500 collides
        # with any other torchrun on the machine)
        return [*torchrun, "--standalone", "--nnodes=1", nproc, "-m", recipe.entry, *config]
    return [
        *torchrun,
        f"--nnodes={cfg.trainer.nnodes}",
        nproc,
        f"--node_rank={environ.get('NODE_RANK') or 0}",
        f"--master_addr={environ.get('MASTER_ADDR') or '127.0.0.1'}",
        f"--master_port={environ.get('MASTER_PORT') or 29500}",
        "-m",
        recipe.entry,
        *config,
    ]


def model_paths(name: str, cfg: DictConfig) -> list[tuple[str, str]]:
    """(role, path) of every model the recipe loads."""
    paths = [("model", _model_path(cfg))]
    if RECIPES[name].kind == "grpo" and cfg.reward.reward_model.enable:
        paths.append(("judge model", str(cfg.reward.reward_model.model_path)))
    return paths


def base_model() -> str:
    """The model the SFT stage starts from (GRPO must not, unless asked to)."""
    return str(OmegaConf.load(CONFIG_DIR / "_sft_common.yaml").model.path)


def trainer_env(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the trainer starts with: ``environ`` plus what ``launch`` sets for it."""
    env = dict(environ)
    # torchrun Megatron needs this on every rank; verl sets it only for its Ray workers.
    if name == "sft_megatron":
        env["CUDA_DEVICE_MAX_CONNECTIONS"] = "1"
    return env


def run_checks(
    name: str, cfg: DictConfig, *, smoke: bool, from_base: bool, environ: Mapping[str, str] | None = None
) -> list[doctor.Check]:
    """Every preflight check of ``cfg`` for recipe ``name``, in report order; ``environ`` is the
    trainer's environment (default: :func:`trainer_env` of this process's)."""
    recipe = RECIPES[name]
    environ = trainer_env(name, os.environ) if environ is None else environ
    try:
        validate_recipe(name, cfg)
        checks = [doctor.Check("config", f"{recipe.config_name}.yaml valid against verl")]
    except RecipeError as exc:
        checks = [doctor.Check("config", str(exc), doctor.BAD_INPUT, "fix the override or the recipe YAML")]
    checks += doctor.check_stack(recipe.engine, smoke)
    if not smoke:
        checks += preflight.check_driver()
        if recipe.engine == "megatron":
            checks += preflight.check_megatron_bridge()
    checks += doctor.check_gpus(cfg, recipe.kind, smoke)
    models = model_paths(name, cfg)
    for role, path in models:
        base = base_model() if recipe.kind == "grpo" and role == "model" else None
        checks += doctor.check_model(path, role, base_model=base, from_base=from_base)
    checks += doctor.check_data(cfg)
    checks += preflight.check_rows(cfg, recipe.kind)
    checks += doctor.check_absolute(cfg, recipe.kind, [p for _, p in models])
    if not smoke:
        checks += preflight.check_multi_node(cfg, recipe.kind, doctor.pools(cfg, recipe.kind).nodes, environ)
    if recipe.kind == "grpo":
        checks += doctor.check_judges(cfg)
    checks += doctor.check_env(name, smoke, environ)
    return checks


def print_report(checks: list[doctor.Check], out=None) -> int:
    out = out or sys.stdout
    for check in checks:
        print(check.line(), file=out)
    failed = [c for c in checks if c.kind is not None]
    print(f"{len(failed)} check(s) failed" if failed else "all checks passed", file=out)
    return doctor.exit_code(checks)


def dry_run(
    name: str, overrides: list[str], out=None, *, smoke: bool = False, from_base: bool = False
) -> int:
    """The plan, the command that would run, and the preflight report; nothing is started."""
    out = out or sys.stdout
    cfg = compose_recipe(name, overrides)
    rows: list[tuple[str, object]] = [
        ("recipe", f"{name} ({RECIPES[name].config_name}.yaml)"),
        ("nodes x GPUs", f"{cfg.trainer.nnodes} x {cfg.trainer.n_gpus_per_node}"),
        ("model", _model_path(cfg)),
        *_key_settings(name, cfg),
        ("checkpoints", cfg.trainer.default_local_dir),
    ]
    print(format_table(("setting", "value"), rows), file=out)
    print(
        f"\nestimate (not a measurement):\n{format_table(('quantity', 'value'), cost.estimate_rows(RECIPES[name].kind, cfg))}",
        file=out,
    )
    env = trainer_env(name, os.environ)
    extra = {k: v for k, v in env.items() if os.environ.get(k) != v}
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(extra.items()))
    print(
        f"\nwould run:\n  {prefix + ' ' if prefix else ''}{shlex.join(trainer_argv(name, cfg, overrides, env))}\n",
        file=out,
    )
    code = print_report(run_checks(name, cfg, smoke=smoke, from_base=from_base), out)
    print("dry run: nothing started", file=out)
    return code


def doctor_main(name: str, cfg: DictConfig, *, smoke: bool, from_base: bool) -> int:
    """The launch gate: the report, and a refusal on any failure unless FINR1_SKIP_CHECKS=1."""
    checks = run_checks(name, cfg, smoke=smoke, from_base=from_base)
    code = print_report(checks)
    if code != exitcodes.DONE and os.environ.get(doctor.SKIP_ENV) == "1":
        logger.warning(
            "%s=1: launching %s despite %d failed check(s)",
            doctor.SKIP_ENV,
            name,
            sum(c.kind is not None for c in checks),
        )
        return exitcodes.DONE
    return code


def environment_overrides(kind: str, environ: MutableMapping[str, str]) -> list[str]:
    """Hydra overrides from the launch environment (see the module docstring), in a fixed order."""

    def value(key: str) -> str | None:
        return environ.get(key) or None

    pairs = [
        ("trainer.nnodes", value("NNODES")),
        ("trainer.n_gpus_per_node", value("N_GPUS_PER_NODE")),
        ("trainer.default_local_dir", value("SAVE_DIR")),
    ]
    data = value("DATA_DIR")
    if kind == "sft":
        pairs.append(("model.path", value("MODEL_PATH")))
        if data:
            pairs += [
                ("data.train_files", f"{data}/sft/train.parquet"),
                ("data.val_files", f"{data}/sft/val.parquet"),
            ]
        return [f"{key}={v}" for key, v in pairs if v]
    external = (value("JUDGE") or "external") == "external"
    kw = "reward.custom_reward_function.reward_kwargs"
    pairs += [("judge", value("JUDGE")), ("actor_rollout_ref.model.path", value("MODEL_PATH"))]
    if data:
        pairs += [
            ("data.train_files", f"{data}/rl/train.parquet"),
            ("data.val_files", f"{data}/rl/val.parquet"),
        ]
    urls = value("FINR1_JUDGE_URLS")
    pairs += [
        (f"{kw}.judge_urls", f"'{urls}'" if urls and external else None),
        (f"{kw}.judge_model", value("FINR1_JUDGE_MODEL") if external else None),
        ("reward.reward_model.model_path", value("JUDGE_MODEL_PATH")),
    ]
    return [f"{key}={v}" for key, v in pairs if v]


def smoke_setup(kind: str, environ: MutableMapping[str, str]) -> list[str]:
    """``--smoke``: the CPU platform's environment and the sample data + tiny model when none are
    given (written into ``environ``); returns the smoke run's overrides."""
    smoke = [sys.executable, "-m", "finr1_verl.smoke"]

    def ask(*args: str) -> list[str]:
        return subprocess.run([*smoke, *args], check=True, capture_output=True, text=True).stdout.splitlines()

    for line in ask("env"):
        key, _, value = shlex.split(line)[1].partition("=")
        environ[key] = value
    folder = Path(environ.get("SMOKE_DIR") or "runs/smoke")
    if not environ.get("DATA_DIR"):
        environ["DATA_DIR"] = str(folder / "data")
        if not Path(environ["DATA_DIR"], "rl", "train.parquet").is_file():
            subprocess.run([*smoke, "data", environ["DATA_DIR"]], check=True, stdout=subprocess.DEVNULL)
    if not environ.get("MODEL_PATH"):
        environ["MODEL_PATH"] = str(folder / "tiny-model")
        if not Path(environ["MODEL_PATH"], "config.json").is_file():
            rl = f"{environ['DATA_DIR']}/rl/train.parquet"
            subprocess.run([*smoke, "model", environ["MODEL_PATH"], "--rl", rl], check=True)
    environ["SAVE_DIR"] = environ.get("SAVE_DIR") or str(folder / kind)
    environ["VERL_FILE_LOGGER_PATH"] = (
        environ.get("VERL_FILE_LOGGER_PATH") or f"{environ['SAVE_DIR']}/metrics.jsonl"
    )
    Path(environ["SAVE_DIR"]).mkdir(parents=True, exist_ok=True)
    print(
        f"[finr1] smoke mode on CPU: model {environ['MODEL_PATH']}, data {environ['DATA_DIR']}, "
        f"checkpoints {environ['SAVE_DIR']}",
        file=sys.stderr,
    )
    return ask("overrides", kind)


def launch(name: str, args: list[str], *, smoke: bool, from_base: bool, dry: bool) -> int:
    """Environment -> overrides, the preflight gate, then this process becomes the trainer."""
    kind, environ = RECIPES[name].kind, os.environ
    try:
        overrides = smoke_setup(kind, environ) if smoke else []
    except subprocess.CalledProcessError as exc:
        print(f"[finr1] smoke setup failed: {shlex.join(exc.cmd)}\n{exc.stderr or ''}", file=sys.stderr)
        return exc.returncode
    overrides += [*environment_overrides(kind, environ), *args]
    if dry:
        return dry_run(name, overrides, smoke=smoke, from_base=from_base)
    cfg = compose_recipe(name, overrides)
    code = doctor_main(name, cfg, smoke=smoke, from_base=from_base)
    if code != exitcodes.DONE:
        return code
    env = trainer_env(name, environ)
    argv = trainer_argv(name, cfg, overrides, env)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


FLAGS = ("--smoke", "--from-base", "--dry-run")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {flag for flag in FLAGS if flag in argv}
    argv = [a for a in argv if a not in FLAGS]
    parser = argparse.ArgumentParser(prog="finr1-recipe", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("config-dir", help="print the config directory of the installed package")
    for command, text in (
        ("launch", "environment -> overrides, preflight checks, then the trainer (--dry-run: show it)"),
        ("doctor", "preflight checks (run before every launch); exit 0 when all pass"),
        ("dry-run", "the plan, the command that would run and the preflight checks; start nothing"),
    ):
        cmd = sub.add_parser(command, help=text)
        cmd.add_argument("recipe", choices=sorted(RECIPES))
        cmd.add_argument(
            "overrides", nargs=argparse.REMAINDER, help="Hydra overrides, as passed to the trainer"
        )
        cmd.epilog = f"flags anywhere on the line: {' '.join(FLAGS)}"
    args = parser.parse_args(argv)
    if args.command == "config-dir":
        print(CONFIG_DIR)
        return exitcodes.DONE
    logging.basicConfig(level=logging.INFO, format="[finr1-recipe] %(message)s")
    options = {
        "smoke": "--smoke" in flags,
        "from_base": "--from-base" in flags or os.environ.get("FINR1_FROM_BASE") == "1",
    }
    if args.command == "launch":
        return launch(args.recipe, args.overrides, dry="--dry-run" in flags, **options)
    if args.command == "dry-run":
        return dry_run(args.recipe, args.overrides, **options)
    return doctor_main(args.recipe, compose_recipe(args.recipe, args.overrides), **options)


if __name__ == "__main__":
    sys.exit(main())
