"""The CPU smoke mode's environment and Hydra overrides for verl's SFT and GRPO trainers.

``recipes/run_fin_r1_{sft,grpo}.sh --smoke`` asks this module (``python -m finr1_verl.smoke``) for
them, so a smoke run is the recipe a user launches plus these lines.  The CPU platform itself is
``finr1_verl/smoke/platform.py``, which verl imports in every trainer process through
``VERL_USE_EXTERNAL_MODULES``.  Sizes are tiny on purpose: 2 steps, a few prompts, short answers.
This module imports neither verl nor torch.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

# Environment for a process that runs verl's trainers on CPU through the platform shim.
CPU_ENV: dict[str, str] = {
    "VERL_USE_EXTERNAL_MODULES": "finr1_verl.smoke.platform",
    "VERL_PLATFORM": "cpu",
    # verl registers its FSDP engines for cuda/npu only; the engine code itself is device-agnostic.
    "VERL_ENGINE_DEVICE": "cuda",
    "TOKENIZERS_PARALLELISM": "false",
    # Turns on the vLLM general plugin of finr1_verl/smoke/vllm_cpu.py in every vLLM process.
    "FINR1_SMOKE": "1",
    # vLLM's CPU KV cache in GiB (its default, 4, is more than the tiny model ever uses).
    "VLLM_CPU_KVCACHE_SPACE": "1",
}

# Hydra overrides for verl's SFT trainer on CPU: no flash-attn, FSDP2 (FSDP1 needs an accelerator),
# no torch.compile, float32 (CPU bf16 matmuls are slow and lossy), no dataloader workers.
CPU_SFT_OVERRIDES: list[str] = [
    "trainer.device=cpu",
    "+model.override_config.attn_implementation=sdpa",
    "model.use_remove_padding=False",
    "engine.strategy=fsdp2",
    "engine.use_torch_compile=False",
    "engine.dtype=float32",
    "engine.param_offload=False",
    "engine.optimizer_offload=False",
    "data.num_workers=0",
]

# The SFT smoke run: 2 steps of one row on one CPU rank, checkpoint (with its Hugging Face export) at the end.
SFT_SMOKE_OVERRIDES: list[str] = [
    *CPU_SFT_OVERRIDES,
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    "data.train_batch_size=1",
    "data.micro_batch_size_per_gpu=1",
    "data.max_length=1024",
    "data.max_token_len_per_gpu=2048",
    "trainer.total_training_steps=2",
    "trainer.total_epochs=1000",
    "trainer.save_freq=-1",
    "trainer.test_freq=-1",
    "trainer.logger=[console]",
    "optim.lr=1e-5",
    "optim.lr_warmup_steps_ratio=0",
]

_ARR = "actor_rollout_ref"


def vllm_cpu_rollout(prefix: str) -> list[str]:
    """A vLLM rollout config on the CPU: float32, eager (no graph capture on CPU), no sleep mode (CUDA
    memory pools only), the KV cache kept between steps, short contexts, few sequences at a time."""
    return [
        f"{prefix}.dtype=float32",
        f"{prefix}.enforce_eager=True",
        f"{prefix}.free_cache_engine=False",
        f"+{prefix}.enable_sleep_mode=False",
        f"{prefix}.max_model_len=1024",
        f"{prefix}.max_num_seqs=16",
        f"{prefix}.tensor_model_parallel_size=1",
    ]


# The GRPO smoke run: 2 steps of 4 prompts x 4 rollouts on one logical GPU of a CPU-only Ray cluster,
# rollouts from verl's own vLLM rollout on the CPU build of vLLM (finr1_verl/smoke/vllm_cpu.py), FSDP2 in
# float32 over gloo, the reference policy offloaded to CPU as in the recipe, checkpoint at step 2.
GRPO_SMOKE_OVERRIDES: list[str] = [
    "trainer.device=cpu",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    # Ray bundles ask for {"CPU": 3, "GPU": 1}; the GPU is logical (the platform's Ray resource name).
    # Logical CPUs: each Ray actor (task runner, storage, reward and agent-loop workers) holds one.
    "ray_kwargs.ray_init.num_cpus=16",
    # One TransferQueue storage actor instead of 8 (each is a ~400 MB process).
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
    "+ray_kwargs.ray_init.num_gpus=1",
    "data.train_batch_size=4",
    "data.max_prompt_length=512",
    "data.max_response_length=64",
    "data.filter_overlong_prompts_workers=1",
    "data.dataloader_num_workers=0",
    f"{_ARR}.model.use_remove_padding=False",
    f"{_ARR}.model.enable_gradient_checkpointing=False",
    f"+{_ARR}.model.override_config.attn_implementation=sdpa",
    f"{_ARR}.actor.ppo_mini_batch_size=4",
    f"{_ARR}.actor.ppo_max_token_len_per_gpu=4096",
    f"{_ARR}.actor.optim.lr=1e-5",
    *[
        f"{_ARR}.{role}.fsdp_config.{key}"
        for role in ("actor", "ref")
        for key in ("dtype=float32", "use_torch_compile=False")
    ],
    f"{_ARR}.rollout.name=vllm",
    *vllm_cpu_rollout(f"{_ARR}.rollout"),
    # verl moves the weights through /dev/shm in buckets (the smoke platform reports no CUDA IPC); its
    # default 2048 MB bucket would put a 2 GB segment there for a 3 MB model.
    f"{_ARR}.rollout.checkpoint_engine.update_weights_bucket_megabytes=64",
    f"{_ARR}.rollout.n=4",
    # The tiny policy samples at temperature 1: about half of its answers then carry the format.
    f"{_ARR}.rollout.temperature=1.0",
    f"{_ARR}.rollout.log_prob_max_token_len_per_gpu=4096",
    f"{_ARR}.ref.log_prob_max_token_len_per_gpu=4096",
    f"{_ARR}.rollout.agent.num_workers=1",
    "reward.num_workers=2",
    "trainer.total_training_steps=2",
    "trainer.total_epochs=1000",
    "trainer.val_before_train=False",
    # Validation at the last step: its metrics carry the reward's own keys (val-aux/<source>/<key>/mean).
    "trainer.test_freq=2",
    "trainer.save_freq=2",
    "trainer.logger=[console,file]",
]

# JUDGE=verl_hosted in smoke mode: verl hosts the tiny model as judge on a second logical GPU, one
# vLLM replica at TP 1 on the CPU.  A random model's free-text verdicts rarely parse; structured output
# (guided decoding, which runs on CPU) makes every reply a verdict.
HOSTED_JUDGE_OVERRIDES: list[str] = [
    "ray_kwargs.ray_init.num_gpus=2",
    "reward.reward_model.n_gpus_per_node=1",
    "reward.reward_model.nnodes=1",
    "reward.reward_model.model_path=${actor_rollout_ref.model.path}",
    *vllm_cpu_rollout("reward.reward_model.rollout"),
    # The judge prompt (criteria, reference, candidate) in the tiny tokenizer runs past 1024 tokens on
    # the Chinese sources; the same context as scripts/serve_judge.sh --cpu.
    "reward.reward_model.rollout.max_model_len=4096",
    "reward.reward_model.rollout.gpu_memory_utilization=0.5",
    "reward.custom_reward_function.reward_kwargs.structured_output=true",
]
RAY_TEMP_ENV = "FINR1_RAY_TEMP_DIR"

SMOKE_OVERRIDES = {"sft": SFT_SMOKE_OVERRIDES, "grpo": GRPO_SMOKE_OVERRIDES}


def smoke_overrides(kind: str, environ: dict[str, str] | None = None) -> list[str]:
    """The overrides of a ``--smoke`` run; without judge URLs the reward runs on rules only."""
    environ = os.environ if environ is None else environ
    overrides = list(SMOKE_OVERRIDES[kind])
    if kind != "grpo":
        return overrides
    if environ.get(RAY_TEMP_ENV):
        # A private Ray folder: the run's guard (finr1_verl/smoke/guard.py) removes it afterwards.
        overrides.append(f"+ray_kwargs.ray_init._temp_dir={environ[RAY_TEMP_ENV]}")
    if environ.get("JUDGE") == "verl_hosted":
        overrides += HOSTED_JUDGE_OVERRIDES
    elif not environ.get("FINR1_JUDGE_URLS"):
        overrides.append("reward.custom_reward_function.reward_kwargs.mode=never")
    return overrides


def _repo_pythonpath() -> str:
    repo_root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")]))


def cpu_sft_command(
    model_dir: str | os.PathLike,
    train_files: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    nproc: int = 1,
    steps: int = 4,
    batch_size: int = 4,
    val_files: str | os.PathLike | None = None,
    extra_overrides: list[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run verl's real SFT trainer on CPU with the Fin-R1 SFT recipe.

    A few steps at a high learning rate on short sequences, so a tiny random model shows its loss
    falling within seconds; ``batch_size`` rows per rank and step; checkpoints (with a Hugging Face
    export) go to ``out_dir``; the validation loss is computed at the last step when ``val_files`` is given.
    """
    from finr1_verl.config import CONFIG_DIR

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc_per_node={nproc}", "--nnodes=1", "--master_addr=127.0.0.1", f"--master_port={port}",
        "-m", "verl.trainer.sft_trainer",
        f"--config-path={CONFIG_DIR}", "--config-name=fin_r1_sft",
        f"model.path={model_dir}",
        f"data.train_files={train_files}",
        f"data.val_files={val_files or 'null'}",
        f"data.train_batch_size={batch_size * nproc}",
        "data.max_length=1024",
        "data.max_token_len_per_gpu=2048",
        f"trainer.total_training_steps={steps}",
        "trainer.total_epochs=1000",
        "trainer.save_freq=-1",
        "trainer.test_freq=-1",
        "trainer.logger=[console]",
        f"trainer.n_gpus_per_node={nproc}",
        f"trainer.default_local_dir={out_dir}",
        "optim.lr=1e-3",
        "optim.lr_warmup_steps_ratio=0",
        *CPU_SFT_OVERRIDES,
        *(extra_overrides or []),
    ]  # fmt: skip
    env = {**os.environ, **CPU_ENV, "PYTHONPATH": _repo_pythonpath()}
    return argv, env


def parse_losses(log: str) -> list[tuple[int, float]]:
    """(step, train/loss) pairs from verl's console logger output."""
    return [(int(m[1]), float(m[2])) for m in re.finditer(r"step:(\d+) - .*?train/loss:([-\d.eE+]+)", log)]
