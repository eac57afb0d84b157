"""A preempted GRPO run continues from its last checkpoint: verl's ``trainer.resume_mode=auto``.

verl's default resume mode looks for ``latest_checkpointed_iteration.txt`` in
``trainer.default_local_dir`` (SAVE_DIR) and loads the actor, the optimizer and the dataloader state
of that ``global_step_N`` (``verl/trainer/ppo/v1/trainer_base.py::_load_checkpoint``).  Two real
smoke runs of ``recipes/run_fin_r1_grpo.sh --smoke`` into one SAVE_DIR: the first stops after step 1
and its checkpoint, the second is started with the same command and must train step 2 only.
"""

from __future__ import annotations

import pytest

from finr1_verl.smoke.run import prepare_inputs, run_grpo

pytestmark = [pytest.mark.slow, pytest.mark.integration]

NO_VALIDATION = "trainer.test_freq=-1"


def test_a_stopped_grpo_run_resumes_from_its_checkpoint(tmp_path):
    inputs = prepare_inputs(tmp_path / "inputs")
    save = tmp_path / "run"
    first = run_grpo(
        inputs, save, overrides=["trainer.total_training_steps=1", "trainer.save_freq=1", NO_VALIDATION]
    )
    assert first.returncode == 0, first.log[-4000:]
    assert sorted(first.metrics) == [1]
    assert (save / "latest_checkpointed_iteration.txt").read_text().strip() == "1"
    assert (save / "global_step_1" / "actor").is_dir() and (save / "global_step_1" / "data.pt").is_file()

    second = run_grpo(inputs, save, overrides=["trainer.total_training_steps=2", NO_VALIDATION])
    assert second.returncode == 0, second.log[-4000:]
    assert "setting global step to 1" in second.log
    # verl's file logger starts a new file per run: the second run logged step 2 and nothing before it.
    assert sorted(second.metrics) == [2]
    assert second.metrics[2]["training/global_step"] == 2
    assert (save / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
