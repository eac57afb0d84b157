"""Compose, validate and explain the training recipes without starting anything.

The launch scripts in ``recipes/`` call this module for two things: the config directory of the
installed package (``python -m finr1_verl.recipes config-dir``) and ``--dry-run``
(``python -m finr1_verl.recipes dry-run RECIPE [hydra overrides...]``), which composes the recipe
exactly as verl will, validates it against the installed verl (``validate_config`` for GRPO, the
engine/optimizer/checkpoint dataclasses for SFT), refuses legacy top-level reward keys that verl 0.9
ignores, checks that the data files exist and that every judge URL answers ``GET /v1/models``,
and prints the plan.  ``check-gpu`` gives the scripts one clear error on a machine without GPUs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from finr1_verl.config import CONFIG_DIR

# verl 0.9 still composes these top-level sections (legacy_reward_impl.yaml) but main_ppo ignores
# them: a value set there silently trains with verl's default scorer.
LEGACY_REWARD_SECTIONS = ("custom_reward_function", "reward_model", "sandbox_fusion")


@dataclass(frozen=True)
class Recipe:
    """One launchable recipe: its YAML, its trainer kind and the verl entry point."""

    config_name: str
    kind: str  # "sft" (torchrun -m verl.trainer.sft_trainer) or "grpo" (python -m verl.trainer.main_ppo)
    entry: str


RECIPES: dict[str, Recipe] = {
    "sft": Recipe("fin_r1_sft", "sft", "verl.trainer.sft_trainer"),
    "sft_megatron": Recipe("fin_r1_sft_megatron", "sft", "verl.trainer.sft_trainer"),
    "grpo": Recipe("fin_r1_grpo", "grpo", "verl.trainer.main_ppo"),
    "grpo_megatron": Recipe("fin_r1_grpo_megatron", "grpo", "verl.trainer.main_ppo"),
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


def judge_urls(cfg: DictConfig) -> list[str]:
    """The external judge URLs of a GRPO recipe (empty when verl hosts the judge)."""
    if cfg.reward.reward_model.enable:
        return []
    urls = cfg.reward.custom_reward_function.get("reward_kwargs", {}).get("judge_urls") or []
    if isinstance(urls, str):
        urls = urls.split(",")
    return [u.strip().rstrip("/") for u in urls if u.strip()]


def probe_judge(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """``GET {url}/models``: (answered, the served model ids or the error)."""
    import httpx

    try:
        resp = httpx.get(f"{url}/models", timeout=timeout)
        resp.raise_for_status()
        models = [m.get("id", "?") for m in resp.json().get("data", [])]
    except (httpx.HTTPError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, ", ".join(models) or "(no models listed)"


def data_files(cfg: DictConfig) -> list[str]:
    files: list[str] = []
    for key in ("train_files", "val_files"):
        value = cfg.data.get(key)
        if value:
            files.extend([value] if isinstance(value, str) else list(value))
    return files


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


def dry_run(name: str, overrides: list[str], out=sys.stdout) -> int:
    """Compose, validate, check data and judge, print the plan; 0 when everything is ready."""
    problems: list[str] = []
    cfg = compose_recipe(name, overrides)
    try:
        validate_recipe(name, cfg)
        status = "valid"
    except RecipeError as exc:
        problems.append(f"config: {exc}")
        status = "INVALID"
    rows: list[tuple[str, object]] = [
        ("recipe", f"{name} ({RECIPES[name].config_name}.yaml, {status} against verl)"),
        ("nodes x GPUs", f"{cfg.trainer.nnodes} x {cfg.trainer.n_gpus_per_node}"),
        ("model", _model_path(cfg)),
        *_key_settings(name, cfg),
    ]
    for path in data_files(cfg):
        ok = Path(path).expanduser().exists()
        rows.append(("data", f"{path} [{'ok' if ok else 'MISSING'}]"))
        if not ok:
            problems.append(f"data file missing: {path}")
    if RECIPES[name].kind == "grpo":
        urls = judge_urls(cfg)
        if not urls and not cfg.reward.reward_model.enable:
            problems.append("no judge URL: set FINR1_JUDGE_URLS or judge=verl_hosted")
        for url in urls:
            ok, detail = probe_judge(url)
            rows.append(("judge URL", f"{url} [{'answers: ' + detail if ok else 'NO ANSWER: ' + detail}]"))
            if not ok:
                problems.append(f"judge does not answer: {url} ({detail})")
    rows.append(("checkpoints", cfg.trainer.default_local_dir))
    width = max(len(k) for k, _ in rows)
    print(f"{'setting':<{width}} | value", file=out)
    print(f"{'-' * width}-|-{'-' * 40}", file=out)
    for key, value in rows:
        print(f"{key:<{width}} | {value}", file=out)
    print(f"\nwould run:\n  {launch_command(name, cfg, overrides)}", file=out)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=out)
    print(
        "dry run: " + ("ready, nothing started" if not problems else f"{len(problems)} problem(s)"), file=out
    )
    return 1 if problems else 0


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finr1_verl.recipes", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("config-dir", help="print the config directory of the installed package")
    dry = sub.add_parser("dry-run", help="compose + validate + check data and judge; start nothing")
    dry.add_argument("recipe", choices=sorted(RECIPES))
    dry.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides, as passed to the trainer")
    gpu = sub.add_parser("check-gpu", help="exit 3 with a clear message when no CUDA GPU is visible")
    gpu.add_argument("recipe", choices=sorted(RECIPES))
    args = parser.parse_args(argv)
    if args.command == "config-dir":
        print(CONFIG_DIR)
        return 0
    if args.command == "dry-run":
        return dry_run(args.recipe, args.overrides)
    found = gpu_count()
    if found == 0:
        print(
            f"error: recipe {args.recipe!r} trains on NVIDIA GPUs and none is visible here "
            "(torch.cuda.device_count() == 0). Install the GPU stack with `pip install -e .[gpu]` on a GPU "
            "node, check the config with --dry-run, or train at tiny sizes on this CPU with --smoke "
            f"(bash recipes/run_fin_r1_{args.recipe.split('_')[0]}.sh --smoke)",
            file=sys.stderr,
        )
        return 3
    print(f"{found} GPU(s) visible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
