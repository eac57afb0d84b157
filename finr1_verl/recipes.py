"""``finr1-recipe``: compose, validate, check and explain the training recipes without starting anything.

    finr1-recipe doctor RECIPE [--smoke] [--from-base] [hydra overrides...]   # preflight, one line per check
    finr1-recipe dry-run RECIPE [--smoke] [--from-base] [hydra overrides...]  # the plan, "would run", the same checks
    finr1-recipe config-dir                                                   # the installed config directory

Both compose the recipe exactly as verl will and validate it against the installed verl
(``validate_config`` for GRPO, the engine/optimizer/checkpoint dataclasses for SFT), refuse legacy
top-level reward keys that verl 0.9 ignores, then run :mod:`finr1_verl.doctor`'s checks.  The launch
scripts in ``recipes/`` run ``doctor`` first and refuse to start on a failure (``FINR1_SKIP_CHECKS=1``
overrides it, with a warning).  ``--from-base`` (or ``FINR1_FROM_BASE=1``) allows GRPO from the base
model; ``--smoke`` checks the CPU smoke run's requirements instead of the GPU stack.  Exit codes:
:mod:`finr1_verl.exitcodes`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from finr1_verl import doctor, exitcodes
from finr1_verl.config import CONFIG_DIR

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


def launch_command(name: str, cfg: DictConfig, overrides: list[str]) -> str:
    recipe = RECIPES[name]
    head = (
        f"torchrun --nnodes={cfg.trainer.nnodes} --nproc_per_node={cfg.trainer.n_gpus_per_node} -m {recipe.entry}"
        if recipe.kind == "sft"
        else f"python -m {recipe.entry}"
    )
    tail = shlex.join([f"--config-path={CONFIG_DIR}", f"--config-name={recipe.config_name}", *overrides])
    return f"{head} {tail}"


def model_paths(name: str, cfg: DictConfig) -> list[tuple[str, str]]:
    """(role, path) of every model the recipe loads."""
    paths = [("model", _model_path(cfg))]
    if RECIPES[name].kind == "grpo" and cfg.reward.reward_model.enable:
        paths.append(("judge model", str(cfg.reward.reward_model.model_path)))
    return paths


def base_model() -> str:
    """The model the SFT stage starts from (GRPO must not, unless asked to)."""
    return str(OmegaConf.load(CONFIG_DIR / "_sft_common.yaml").model.path)


def run_checks(name: str, cfg: DictConfig, *, smoke: bool, from_base: bool) -> list[doctor.Check]:
    """Every preflight check of ``cfg`` for recipe ``name``, in report order."""
    recipe = RECIPES[name]
    try:
        validate_recipe(name, cfg)
        checks = [doctor.Check("config", f"{recipe.config_name}.yaml valid against verl")]
    except RecipeError as exc:
        checks = [doctor.Check("config", str(exc), doctor.BAD_INPUT, "fix the override or the recipe YAML")]
    checks += doctor.check_stack(recipe.engine, smoke)
    checks += doctor.check_gpus(cfg, recipe.kind, smoke)
    models = model_paths(name, cfg)
    for role, path in models:
        base = base_model() if recipe.kind == "grpo" and role == "model" else None
        checks += doctor.check_model(path, role, base_model=base, from_base=from_base)
    checks += doctor.check_data(cfg)
    checks += doctor.check_absolute(cfg, recipe.kind, [p for _, p in models])
    if recipe.kind == "grpo":
        checks += doctor.check_judges(cfg)
    checks += doctor.check_env(name, smoke)
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
    width = max(len(k) for k, _ in rows)
    print(f"{'setting':<{width}} | value", file=out)
    print(f"{'-' * width}-|-{'-' * 40}", file=out)
    for key, value in rows:
        print(f"{key:<{width}} | {value}", file=out)
    print(f"\nwould run:\n  {launch_command(name, cfg, overrides)}\n", file=out)
    code = print_report(run_checks(name, cfg, smoke=smoke, from_base=from_base), out)
    print("dry run: nothing started", file=out)
    return code


def doctor_main(name: str, overrides: list[str], *, smoke: bool, from_base: bool) -> int:
    """The launch gate: the report, and a refusal on any failure unless FINR1_SKIP_CHECKS=1."""
    checks = run_checks(name, compose_recipe(name, overrides), smoke=smoke, from_base=from_base)
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


FLAGS = ("--smoke", "--from-base")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {flag for flag in FLAGS if flag in argv}
    argv = [a for a in argv if a not in FLAGS]
    parser = argparse.ArgumentParser(prog="finr1-recipe", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("config-dir", help="print the config directory of the installed package")
    for command, text in (
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
    if args.command == "dry-run":
        return dry_run(args.recipe, args.overrides, **options)
    return doctor_main(args.recipe, args.overrides, **options)


if __name__ == "__main__":
    sys.exit(main())
