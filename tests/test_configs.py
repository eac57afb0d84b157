"""The recipes inherit from verl's config tree instead of restating it.

verl derives many keys from others (``${oc.select:actor_rollout_ref.actor.ppo_max_token_len_per_gpu,...}``
and the like).  A recipe that writes such a key down breaks the link: an override of the source key
no longer reaches it.  These tests walk verl's own base configs, find every interpolated key, and
check that each recipe leaves it interpolated, except the deliberate overrides listed below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from finr1_verl.config import CONFIG_DIR
from finr1_verl.recipes import compose_recipe, validate_recipe

# recipe -> (verl base config, its overrides) the recipe's defaults list composes
BASES = {
    "sft": ("sft_trainer_engine", []),
    "sft_megatron": ("sft_trainer_engine", ["engine=megatron", "optim=megatron"]),
    "grpo": ("ppo_trainer", []),
    "grpo_megatron": ("ppo_trainer", ["model_engine=megatron"]),
}

# Interpolated keys a recipe sets on purpose to a value the interpolation would not give.
DELIBERATE = {
    # verl copies the actor's offload flag; the forward-only reference is offloaded while the actor is not.
    "actor_rollout_ref.ref.megatron.param_offload",
    # verl copies the actor's update budget into the forward-only log-prob passes; they get 1.5x of it
    # (volcengine/verl@3592251 recipe/dapo/test_dapo_7b_math.sh: infer_ppo_max_token_len 3x, actor 2x).
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu",
    "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu",
}

# Keys verl 0.9.1 validates but never reads on the recipes' paths: no recipe file may set them.
IGNORED = {
    "_grpo_common.yaml": [
        "data.truncation",  # RLHFDataset stores it, nothing applies it
        "actor_rollout_ref.rollout.val_kwargs.do_sample",  # only gates validate_config's temperature check
        "actor_rollout_ref.model.enable_gradient_checkpointing",  # shared with Megatron, which ignores it
    ],
    "judge/verl_hosted.yaml": [
        # verl's vLLM server: do_sample unread, prompt_length only on the token-in generate path,
        # temperature/response_length server defaults that every judge request overrides
        f"reward.reward_model.rollout.{key}"
        for key in ("prompt_length", "response_length", "temperature", "do_sample")
    ],
    "fin_r1_grpo_megatron.yaml": ["actor_rollout_ref.model.enable_gradient_checkpointing"],
    "fin_r1_sft_megatron.yaml": ["model.enable_gradient_checkpointing"],
    "_sft_common.yaml": ["model.enable_gradient_checkpointing"],  # shared with Megatron
}


def _verl_base(name: str):
    import verl

    GlobalHydra.instance().clear()
    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    base, overrides = BASES[name]
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name=base, overrides=overrides)


def _leaves(node: object, prefix: str = "") -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def _interpolated(cfg) -> dict[str, str]:
    leaves = _leaves(OmegaConf.to_container(cfg, resolve=False))
    return {k: v for k, v in leaves.items() if isinstance(v, str) and "${" in v}


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_key_verl_interpolates_stays_interpolated(name):
    base = _interpolated(_verl_base(name))
    assert base  # the walk sees verl's tree, not an empty config
    judges = ["judge=verl_hosted"] if name.startswith("grpo") else []
    recipe = _leaves(OmegaConf.to_container(compose_recipe(name, judges), resolve=False))
    restated = {k: recipe.get(k) for k, v in base.items() if recipe.get(k) != v and k not in DELIBERATE}
    assert restated == {}, f"{name} writes down keys verl derives: {restated}"


def test_deliberate_overrides_differ_from_what_verl_would_derive():
    cfg = compose_recipe("grpo_megatron")
    arr = cfg.actor_rollout_ref
    assert arr.ref.megatron.param_offload is True and arr.actor.megatron.param_offload is False


@pytest.mark.parametrize("name", ["grpo", "grpo_megatron"])
def test_one_actor_token_budget_override_reaches_every_dependent_key(name):
    cfg = compose_recipe(name, ["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=32768"])
    validate_recipe(name, cfg)
    arr = cfg.actor_rollout_ref
    # the log-prob passes keep their own (deliberate) budget, 1.5x the recipe's actor budget
    assert arr.rollout.log_prob_max_token_len_per_gpu == arr.ref.log_prob_max_token_len_per_gpu == 36864
    assert compose_recipe(name).actor_rollout_ref.actor.ppo_max_token_len_per_gpu * 3 // 2 == 36864
    assert arr.rollout.log_prob_use_dynamic_bsz is True and arr.ref.log_prob_use_dynamic_bsz is True
    off = compose_recipe(name, ["actor_rollout_ref.actor.use_dynamic_bsz=false"])
    assert off.actor_rollout_ref.rollout.log_prob_use_dynamic_bsz is False
    assert off.actor_rollout_ref.ref.log_prob_use_dynamic_bsz is False
    longer = compose_recipe(name, ["data.max_prompt_length=4096"])
    assert longer.actor_rollout_ref.rollout.prompt_length == 4096


def test_megatron_ref_follows_the_actor_layout():
    cfg = compose_recipe("grpo_megatron", ["actor_rollout_ref.actor.megatron.pipeline_model_parallel_size=4"])
    assert cfg.actor_rollout_ref.ref.megatron.pipeline_model_parallel_size == 4
    assert cfg.actor_rollout_ref.ref.megatron.tensor_model_parallel_size == 2


@pytest.mark.parametrize("file, keys", sorted(IGNORED.items()))
def test_no_recipe_file_sets_a_key_verl_ignores(file, keys):
    path = CONFIG_DIR / file  # judge files are `@package _global_`: their keys are already global
    raw = OmegaConf.load(path)
    set_keys = set(_leaves(OmegaConf.to_container(raw, resolve=False)))
    assert set_keys.isdisjoint(keys), set_keys & set(keys)


def test_megatron_recipes_recompute_through_the_transformer_config():
    for name, section in (("grpo_megatron", "actor_rollout_ref.actor.megatron"), ("sft_megatron", "engine")):
        tc = OmegaConf.select(compose_recipe(name), f"{section}.override_transformer_config")
        assert (tc.recompute_granularity, tc.recompute_method, tc.recompute_num_layers) == (
            "full",
            "uniform",
            1,
        )


def test_hosted_judge_stays_awake():
    cfg = compose_recipe("grpo", ["judge=verl_hosted"])
    rollout = cfg.reward.reward_model.rollout
    assert rollout.free_cache_engine is False
    assert rollout.max_model_len == 8192


@pytest.mark.parametrize("free_cache_engine, slept", [(None, False), (True, True)])
def test_verls_reward_model_manager_keeps_the_hosted_judge_awake(free_cache_engine, slept):
    """verl's own RewardModelManager.__init__ with the recipe's hosted-judge config (servers and router
    replaced: they need GPUs); with verl's default it would put the judge to sleep right away."""
    from verl.experimental.reward_loop.reward_model import RewardModelManager
    from verl.utils.config import omega_conf_to_dataclass

    overrides = ["judge=verl_hosted"]
    if free_cache_engine is not None:
        overrides.append(f"reward.reward_model.rollout.free_cache_engine={free_cache_engine}")
    config = omega_conf_to_dataclass(compose_recipe("grpo", overrides).reward.reward_model)
    calls = []

    class NoServers(RewardModelManager):
        def _initialize_llm_servers(self):
            calls.append("servers")

        def _initialize_router(self):
            calls.append("router")

        def sleep(self):
            calls.append("sleep")

    NoServers(config)
    assert calls == ["servers", "router", *(["sleep"] if slept else [])]
