"""finr1-eval's checkpoint loader accepts Megatron checkpoints: their HF export is used as is."""

from __future__ import annotations

import pytest

from finr1_verl.eval.checkpoint import resolve_model


def _hf(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


@pytest.mark.parametrize("inner", ["actor/model/huggingface", "model/huggingface"])
def test_megatron_checkpoint_resolves_to_its_hf_export(tmp_path, inner):
    root = tmp_path / "ckpt"
    hf = _hf(root / "global_step_3" / inner)
    (root / "latest_checkpointed_iteration.txt").write_text("3\n")
    assert resolve_model(str(root)) == str(hf)
    assert resolve_model(str(root / "global_step_3")) == str(hf)
    assert resolve_model(str(hf)) == str(hf)
    assert resolve_model(str(hf.parents[1])) == str(hf)


def test_a_folder_that_is_no_checkpoint_is_named(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="Megatron"):
        resolve_model(str(tmp_path / "x"))
