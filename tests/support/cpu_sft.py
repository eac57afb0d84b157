"""How to run verl's real SFT trainer on CPU with the Fin-R1 SFT recipe (tests and the CPU smoke run).

The CPU platform itself is ``tests/support/cpu_platform.py``, which verl imports in every trainer
process through ``VERL_USE_EXTERNAL_MODULES``; this module holds the environment and Hydra
overrides that go with it and builds the ``torchrun`` command.  It imports neither verl nor torch.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

# Environment for a process that runs verl's trainer on CPU through the platform shim.
CPU_ENV: dict[str, str] = {
    "VERL_USE_EXTERNAL_MODULES": "tests.support.cpu_platform",
    "VERL_PLATFORM": "cpu",
    # verl registers its FSDP engines for cuda/npu only; the engine code itself is device-agnostic.
    "VERL_ENGINE_DEVICE": "cuda",
    "TOKENIZERS_PARALLELISM": "false",
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
    repo_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        **CPU_ENV,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")])),
    }
    return argv, env


def parse_losses(log: str) -> list[tuple[int, float]]:
    """(step, train/loss) pairs from verl's console logger output."""
    return [(int(m[1]), float(m[2])) for m in re.finditer(r"step:(\d+) - .*?train/loss:([-\d.eE+]+)", log)]
