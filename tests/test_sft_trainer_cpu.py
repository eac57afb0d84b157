"""verl's real SFT trainer (torchrun -m verl.trainer.sft_trainer) runs the Fin-R1 SFT recipe on CPU.

The rows are real TFNS tweets and FinanceIQ exam questions rendered by the data module (prompt,
options, \\boxed{} instruction, Fin-R1's <think>/<answer> target).  The shared data carries no
reasoning traces, so each row's <think> part is a short fixed sentence: what is under test is the
trainer path (recipe config, MultiTurnSFTDataset's chat-template check, FSDP2 over gloo, optimizer,
checkpoint with a Hugging Face export), not the content.  The CPU platform comes from
finr1_verl/smoke/platform.py through verl's own plugin hooks.
"""

from __future__ import annotations

import subprocess
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finr1_verl.smoke.launch import cpu_sft_command, parse_losses
from tests.support.shared_data import shared_path

pytestmark = [pytest.mark.slow, pytest.mark.integration]

STEPS = 4
TRACE = {
    "label": "The tweet's news about the company decides its market sentiment label.",
    "choice": "Compare each option with the rule the question asks about and keep the one that matches.",
}


def _examples(source: str, path: Path, n: int) -> list:
    from finr1_verl.data.sources import Rejected, parser_for

    return list(islice((e for e in parser_for(source)(path) if not isinstance(e, Rejected)), n))


@pytest.fixture(scope="module")
def sft_parquet(tmp_path_factory) -> Path:
    from finr1_verl.data.rows import SFT_SCHEMA, sft_row

    examples = _examples("tfns", shared_path("tfns", "sent_valid.csv"), 12)
    examples += _examples("financeiq", shared_path("financeiq", "dev"), 12)
    rows = [sft_row(e, thinking=TRACE[e.answer_type]) for e in examples]
    assert len(rows) == 24 and all(r is not None for r in rows)
    path = tmp_path_factory.mktemp("sft-data") / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SFT_SCHEMA), path)
    return path


@pytest.mark.parametrize("nproc", [1, 2])
def test_sft_trainer_trains_and_checkpoints_on_cpu(nproc, sft_parquet, tiny_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    ckpt_dir = tmp_path / "ckpt"
    argv, env = cpu_sft_command(tiny_model_dir, sft_parquet, ckpt_dir, nproc=nproc, steps=STEPS)
    proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]

    losses = parse_losses(log)
    assert [step for step, _ in losses] == list(range(1, STEPS + 1)), log[-4000:]
    assert losses[-1][1] < losses[0][1] - 0.3, losses

    assert (ckpt_dir / "latest_checkpointed_iteration.txt").read_text().strip() == str(STEPS)
    step_dir = ckpt_dir / f"global_step_{STEPS}"
    for rank in range(nproc):
        assert (step_dir / f"model_world_size_{nproc}_rank_{rank}.pt").is_file()
        assert (step_dir / f"optim_world_size_{nproc}_rank_{rank}.pt").is_file()
    trained = load_file(step_dir / "huggingface" / "model.safetensors")
    initial = load_file(tiny_model_dir / "model.safetensors")
    assert trained.keys() == initial.keys()
    assert any(not torch.equal(trained[k], initial[k]) for k in initial)
