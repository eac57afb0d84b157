"""A model to evaluate from a verl checkpoint folder: the GRPO actor exported to Hugging Face.

verl's PPO trainer saves the actor as FSDP shards (``global_step_N/actor/model_world_size_W_rank_R.pt``
plus ``fsdp_config.json`` and ``huggingface/`` with the config and tokenizer only).  verl's model
merger (``python -m verl.model_merger merge --backend fsdp``) turns the shards into a Hugging Face
model; :func:`resolve_model` runs it once (into ``actor/merged_hf``) so ``finr1-eval --model`` accepts
the checkpoint root, a ``global_step_N`` folder, its ``actor/`` folder or an HF folder alike.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MERGED_DIR = "merged_hf"


def _is_hf_model(path: Path) -> bool:
    return (path / "config.json").exists() and any(path.glob("*.safetensors"))


def _step_dir(path: Path) -> Path:
    """A checkpoint root's latest ``global_step_N`` folder; any other folder as it is."""
    latest = path / "latest_checkpointed_iteration.txt"
    return path / f"global_step_{latest.read_text().strip()}" if latest.exists() else path


def megatron_hf_dir(path: Path) -> Path | None:
    """The Hugging Face export a Megatron checkpoint carries (``actor/model/huggingface`` for GRPO,
    ``model/huggingface`` for SFT: ``verl/utils/megatron_utils.py::get_hf_model_checkpoint_path``)."""
    path = _step_dir(path)
    # ``path / "model"`` also covers a given ``actor/`` folder
    for hf in (path / "actor" / "model" / "huggingface", path / "model" / "huggingface"):
        if _is_hf_model(hf):
            return hf
    return None


def actor_dir(path: Path) -> Path | None:
    """The FSDP actor folder of a verl checkpoint root, step folder or actor folder; None if not one."""
    path = _step_dir(path)
    if (path / "actor").is_dir():
        path = path / "actor"
    return (
        path
        if (path / "fsdp_config.json").exists() and any(path.glob("model_world_size_*_rank_*.pt"))
        else None
    )


def export_hf(actor: Path, target: Path) -> Path:
    """verl's model merger: the FSDP actor shards in ``actor`` as a Hugging Face model in ``target``."""
    cmd = [
        sys.executable, "-m", "verl.model_merger", "merge",
        "--backend", "fsdp", "--local_dir", str(actor), "--target_dir", str(target),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode or not _is_hf_model(target):
        raise RuntimeError(
            f"verl's model merger could not export {actor} to {target} (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return target


def resolve_model(model: str) -> str:
    """``model`` itself, or the Hugging Face export of the verl checkpoint it names (made once)."""
    path = Path(model)
    if not path.is_dir() or _is_hf_model(path):
        return model
    megatron = megatron_hf_dir(path)
    if megatron is not None:
        return str(megatron)
    actor = actor_dir(path)
    if actor is None:
        raise ValueError(
            f"--model {model}: neither a Hugging Face model folder (config.json + *.safetensors) "
            "nor a verl FSDP checkpoint (global_step_N/actor with fsdp_config.json and model shards) nor a "
            "Megatron one (global_step_N/actor/model/huggingface or global_step_N/model/huggingface)"
        )
    merged = actor / MERGED_DIR
    return str(merged if _is_hf_model(merged) else export_hf(actor, merged))
