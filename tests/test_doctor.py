"""``finr1-recipe doctor``: every check on CPU, each failure line provoked by a test.

The machine probes (GPU count, torch's CUDA, installed versions) are replaced with monkeypatch where a
GPU machine is needed; verl's requirements are read from its real installed metadata, judges are a
real loopback OpenAI-compatible server, data are real parquet written by ``finr1-data prepare``.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finr1_verl import doctor, exitcodes, preflight, verl_pins
from finr1_verl.recipes import compose_recipe, dry_run, main, run_checks
from tests.support.shared_data import shared_path

REPO = Path(__file__).resolve().parents[1]
KW = "reward.custom_reward_function.reward_kwargs"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    cmd = [sys.executable, "-m", "finr1_verl.data.cli", "prepare", "--no-progress", "--mix", "all"]
    cmd += ["--include-dev"]  # TFNS's file is its validation split
    cmd += ["--source", f"tfns={shared_path('tfns', 'sent_valid.csv')}", "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    # prepare writes SFT rows only from distilled traces (none here): one batch of chat rows, so the
    # SFT reports below pass the row-count check and show only what each test provokes
    import pyarrow as pa
    import pyarrow.parquet as pq

    chat = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(128)
    ]
    for split in ("train", "val"):
        pq.write_table(pa.table({"messages": chat}), out / "sft" / f"{split}.parquet")
    return out


def _pinned(name: str, extras=("vllm", "fsdp", "megatron")) -> str | None:
    """The version verl pins for ``name`` (what a correct GPU install has)."""
    for req in verl_pins.requirements(extras, verl_pins.installed_requires()):
        if verl_pins.canonical(req.name) == name:
            pins = [s.version for s in req.specifier if s.operator == "=="]
            return pins[0] if pins else "1.0"
    return None


@pytest.fixture
def gpu_node(monkeypatch):
    """This machine as an 8-GPU node with verl's pinned CUDA stack installed."""
    monkeypatch.setattr(doctor, "visible_gpus", lambda: 8)
    monkeypatch.setattr(doctor, "torch_cuda", lambda: "13.0")
    monkeypatch.setattr(doctor, "installed_version", _pinned)
    # the image's Megatron-Bridge r0.5.0 (preflight accepts the 0.5 line); the driver of a CUDA 13 node
    monkeypatch.setattr(
        preflight, "installed_version", lambda name: "0.5.0" if "bridge" in name else _pinned(name)
    )
    monkeypatch.setattr(preflight, "torch_cuda", lambda: "13.0")
    monkeypatch.setattr(preflight, "driver_version", lambda: "580.65.06")
    # a cluster whose nodes all run this checkout (tests/test_preflight.py runs the real per-node task)
    monkeypatch.setattr(
        preflight, "check_ray_nodes", lambda address: iter([doctor.Check("ray nodes", "same")])
    )
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.9")
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv(doctor.SKIP_ENV, raising=False)
    return monkeypatch


def good_grpo(data_dir: Path, model: Path, judge) -> list[str]:
    return [
        f"data.train_files={data_dir}/rl/train.parquet",
        f"data.val_files={data_dir}/rl/val.parquet",
        f"actor_rollout_ref.model.path={model}",
        f"{KW}.judge_urls={judge.base_url}",
        f"{KW}.judge_model=fake-model",
    ]


def good_sft(data_dir: Path, model: Path) -> list[str]:
    return [
        f"data.train_files={data_dir}/sft/train.parquet",
        f"data.val_files={data_dir}/sft/val.parquet",
        f"model.path={model}",
    ]


def hosted(data_dir: Path, model: Path) -> list[str]:
    """GRPO with verl hosting the judge (its pool is a second node: paths must be absolute)."""
    return [
        "judge=verl_hosted",
        f"reward.reward_model.model_path={model}",
        f"actor_rollout_ref.model.path={model}",
        f"data.train_files={data_dir}/rl/train.parquet",
        f"data.val_files={data_dir}/rl/val.parquet",
        f"trainer.default_local_dir={data_dir}/ckpt",
    ]


def failures(name: str, overrides: list[str], *, smoke=False, from_base=False, environ=None) -> list[str]:
    checks = run_checks(
        name, compose_recipe(name, overrides), smoke=smoke, from_base=from_base, environ=environ
    )
    return [c.line() for c in checks if c.kind is not None]


def code(name: str, overrides: list[str], **options) -> int:
    checks = run_checks(
        name, compose_recipe(name, overrides), **{"smoke": False, "from_base": False, **options}
    )
    return doctor.exit_code(checks)


# --- everything right -----------------------------------------------------------------------------
def test_a_ready_gpu_node_passes_every_check(gpu_node, data_dir, tiny_model_dir, fake_openai):
    assert failures("grpo", good_grpo(data_dir, tiny_model_dir, fake_openai)) == []
    assert failures("sft", good_sft(data_dir, tiny_model_dir)) == []
    out = io.StringIO()
    assert dry_run("grpo", good_grpo(data_dir, tiny_model_dir, fake_openai), out=out) == exitcodes.DONE
    text = out.getvalue()
    assert f"would run:\n  {sys.executable} -m verl.trainer.main_ppo" in text and "all checks passed" in text
    assert f"ok    judge: {fake_openai.base_url} serves fake-model" in text
    assert "ok    vllm: 0.24.0 (verl[vllm,fsdp]: ==0.24.0)" in text
    assert fake_openai.requests == []  # GET /v1/models only


def test_the_smoke_run_checks_the_cpu_requirements_on_this_machine(data_dir, tiny_model_dir):
    assert failures("sft", good_sft(data_dir, tiny_model_dir), smoke=True) == []
    lines = [
        c.line()
        for c in run_checks(
            "sft", compose_recipe("sft", good_sft(data_dir, tiny_model_dir)), smoke=True, from_base=False
        )
    ]
    assert any(line.startswith("ok    transferqueue: ") and "verl[verl-core]" in line for line in lines)
    assert any(line.startswith("ok    GPUs: none needed (smoke run on CPU") for line in lines)


def test_a_stale_egg_info_hiding_the_vllm_plugin_is_named(tmp_path):
    """A source tree's old finr1_verl.egg-info (no entry points) on PYTHONPATH shadows the install."""
    stale = tmp_path / "finr1_verl.egg-info"
    stale.mkdir()
    (stale / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: finr1-verl\nVersion: 0.1.0\n")
    script = "from finr1_verl import doctor; print(doctor.check_vllm_plugin().line())"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = functools.partial(subprocess.run, capture_output=True, text=True, check=True)
    shadowed = run([sys.executable, "-c", script], env=env, cwd=tmp_path).stdout
    assert shadowed.startswith(
        "FAIL  vLLM plugin: vllm.general_plugins entry point finr1_smoke_cpu not visible"
    )
    assert f"read from {tmp_path}" in shadowed and "stale finr1_verl.egg-info" in shadowed
    clean = tmp_path / "clean"
    clean.mkdir()
    assert run([sys.executable, "-c", script], cwd=clean).stdout.startswith(
        "ok    vLLM plugin: finr1_smoke_cpu"
    )


# --- GPUs ---------------------------------------------------------------------------------------
def test_no_gpu_is_its_own_exit_code(gpu_node, data_dir, tiny_model_dir):
    gpu_node.setattr(doctor, "visible_gpus", lambda: 0)
    lines = failures("sft", good_sft(data_dir, tiny_model_dir))
    assert lines == [
        "FAIL  GPUs: none visible (torch.cuda.device_count() == 0); the config needs 8 (trainer 1x8) -> run on "
        "a GPU node with the GPU install (README, Install), or train at tiny sizes on this CPU with --smoke "
        "(bash recipes/run_fin_r1_sft.sh --smoke)"
    ]
    assert code("sft", good_sft(data_dir, tiny_model_dir)) == exitcodes.NO_GPU


def test_sft_on_fewer_gpus_than_torchrun_starts(gpu_node, data_dir, tiny_model_dir):
    gpu_node.setattr(doctor, "visible_gpus", lambda: 4)
    assert failures("sft", good_sft(data_dir, tiny_model_dir)) == [
        "FAIL  GPUs: 4 visible, torchrun starts 8 per node -> set N_GPUS_PER_NODE=4 (and a data.train_batch_size "
        "divisible by the GPU count)"
    ]


def test_the_hosted_judge_pool_needs_its_own_gpus_in_one_ray_cluster(gpu_node, data_dir, tiny_model_dir):
    overrides = hosted(data_dir, tiny_model_dir)
    line, ray = failures("grpo", overrides)  # the pool makes it two nodes: no Ray cluster is running
    assert ray.startswith("FAIL  ray: 2 nodes and RAY_ADDRESS unset")
    assert line.startswith(
        "FAIL  GPUs: 8 visible and no Ray cluster (RAY_ADDRESS unset); the config needs 16 "
    )
    assert "(trainer 1x8 + hosted judge 1x8)" in line
    assert 'verl would stop with "Total available GPUs 8 is less than total desired GPUs 16"' in line
    assert "JUDGE=external" in line
    assert code("grpo", overrides) == exitcodes.NO_GPU
    gpu_node.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert failures("grpo", overrides) == []
    gpu_node.setattr(doctor, "visible_gpus", lambda: 4)
    assert failures("grpo", overrides) == [
        "FAIL  GPUs: 4 visible on this node, the trainer pool places 8 per node -> set N_GPUS_PER_NODE=4 or "
        "start from a node with 8 GPUs"
    ]


# --- software stack -----------------------------------------------------------------------------
def test_versions_are_checked_against_verls_own_extras(gpu_node, data_dir, tiny_model_dir):
    versions = {"torch": "2.10.0", "vllm": None}
    gpu_node.setattr(doctor, "installed_version", lambda name: versions.get(name, _pinned(name)))
    lines = failures("sft", good_sft(data_dir, tiny_model_dir))
    assert lines[0] == (
        "FAIL  torch: 2.10.0 installed, verl[vllm,fsdp] requires ==2.11.0 -> use verl's image (docker/Dockerfile) "
        "or reinstall the pip route (README, Install; ensure_venv gpu in scripts/_venv.sh): verl's torch first, "
        "flash-attn without build isolation, then .[gpu]"
    )
    assert lines[1].startswith("FAIL  vllm: not installed (verl[vllm,fsdp] requires ==0.24.0)")
    assert code("sft", good_sft(data_dir, tiny_model_dir)) == exitcodes.FAILED
    megatron = failures("sft_megatron", [*good_sft(data_dir, tiny_model_dir)])
    assert any(
        line.startswith("FAIL  torch: 2.10.0 installed, verl[vllm,megatron] requires") for line in megatron
    )
    assert any("docker/Dockerfile" in line for line in megatron)


def test_torch_must_be_a_cuda_build_matching_verls_pins(gpu_node, data_dir, tiny_model_dir):
    gpu_node.setattr(doctor, "torch_cuda", lambda: None)
    (line,) = failures("sft", good_sft(data_dir, tiny_model_dir))
    assert line.startswith(
        "FAIL  CUDA: torch is a CPU build (or missing) -> install verl's CUDA torch first: "
    )
    assert "pip install 'torch==2.11.0' --index-url https://download.pytorch.org/whl/cu130" in line
    gpu_node.setattr(doctor, "torch_cuda", lambda: "12.8")
    assert failures("sft", good_sft(data_dir, tiny_model_dir)) == [
        "FAIL  CUDA: torch built for CUDA 12.8, verl's flash-attn pin targets CUDA 13.0 -> reinstall torch from "
        "https://download.pytorch.org/whl/cu130"
    ]


# --- model, data, paths -------------------------------------------------------------------------
def test_grpo_refuses_the_base_model_unless_from_base(gpu_node, data_dir, fake_openai, tiny_model_dir):
    overrides = (
        good_grpo(data_dir, tiny_model_dir, fake_openai)[:2]
        + good_grpo(data_dir, tiny_model_dir, fake_openai)[3:]
    )
    (line,) = failures("grpo", overrides)
    assert line.startswith(
        "FAIL  model: Qwen/Qwen2.5-7B-Instruct is the base model: GRPO would skip the SFT stage"
    )
    assert "--from-base" in line
    assert code("grpo", overrides) == exitcodes.BAD_INPUT
    assert failures("grpo", overrides, from_base=True) == []


def test_a_missing_model_folder_names_the_hf_export_paths(gpu_node, data_dir, tmp_path):
    assert failures("sft", good_sft(data_dir, tmp_path / "none")) == [
        f"FAIL  model: {tmp_path / 'none'} does not exist -> point it at a Hugging Face model folder (FSDP SFT: "
        "global_step_N/huggingface; Megatron SFT: global_step_N/model/huggingface)"
    ]
    (line,) = failures("sft", good_sft(data_dir, tmp_path))
    assert line.startswith(f"FAIL  model: {tmp_path} has no config.json")


def test_missing_data_files_are_named(gpu_node, tmp_path, tiny_model_dir):
    lines = failures("sft", [f"data.train_files={tmp_path}/none.parquet", f"model.path={tiny_model_dir}"])
    assert (
        f"FAIL  data: {tmp_path}/none.parquet is missing -> run finr1-data prepare|filter and set DATA_DIR to its --out folder"
        in lines
    )


def test_several_nodes_need_absolute_paths(gpu_node, data_dir, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(data_dir)
    relative = [
        "data.train_files=sft/train.parquet",
        "data.val_files=sft/val.parquet",
        f"model.path={tiny_model_dir}",
    ]
    lines = failures("sft", [*relative, "trainer.nnodes=2"])
    assert (
        "FAIL  paths: data sft/train.parquet is relative on 2 nodes: each node resolves it in its own directory -> give an absolute path on storage every node mounts (DATA_DIR, MODEL_PATH, SAVE_DIR)"
        in lines
    )
    assert any(line.startswith("FAIL  paths: trainer.default_local_dir checkpoints/finr1/") for line in lines)
    assert failures("sft", [*relative, "trainer.nnodes=1"]) == []
    absolute = [
        *good_sft(data_dir, tiny_model_dir),
        "trainer.nnodes=2",
        f"trainer.default_local_dir={data_dir}/ckpt",
    ]
    assert failures("sft", absolute) == []


# --- judges ------------------------------------------------------------------------------------
def test_a_judge_that_does_not_answer_or_serves_another_model(
    gpu_node, data_dir, tiny_model_dir, fake_openai
):
    dead = "http://127.0.0.1:9/v1"
    base = good_grpo(data_dir, tiny_model_dir, fake_openai)
    lines = failures("grpo", [*base, f"{KW}.judge_urls='{fake_openai.address},{dead}'"])
    (line,) = lines
    assert line.startswith(f"FAIL  judge: {dead} does not answer GET /models (ConnectError")
    assert line.endswith(
        "-> start it (bash scripts/serve_judge.sh) or fix FINR1_JUDGE_URLS; it must be reachable from every node"
    )
    assert code("grpo", [*base, f"{KW}.judge_urls={dead}"]) == exitcodes.FAILED
    assert failures("grpo", [*base, f"{KW}.judge_model=Qwen/Qwen2.5-72B-Instruct"]) == [
        f"FAIL  judge: {fake_openai.base_url} serves ['fake-model'], not judge_model 'Qwen/Qwen2.5-72B-Instruct' "
        "-> export FINR1_JUDGE_MODEL=fake-model (or serve that name)"
    ]


def test_a_loopback_judge_on_several_nodes(gpu_node, data_dir, tiny_model_dir, fake_openai):
    gpu_node.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    overrides = [*good_grpo(data_dir, tiny_model_dir, fake_openai), "trainer.nnodes=2"]
    overrides.append(f"trainer.default_local_dir={data_dir}/ckpt")
    assert failures("grpo", overrides) == [
        f"FAIL  judge: {fake_openai.base_url} is this machine's loopback, and verl places reward workers on all "
        "2 nodes -> give the judge host's address in FINR1_JUDGE_URLS (scripts/serve_judge.sh prints it)"
    ]
    assert failures("grpo", overrides[:-2] + ["trainer.nnodes=1"]) == []


def test_a_judge_without_model_name_and_a_rules_only_run(
    gpu_node, data_dir, tiny_model_dir, fake_openai, monkeypatch
):
    monkeypatch.delenv("FINR1_JUDGE_MODEL", raising=False)
    base = good_grpo(data_dir, tiny_model_dir, fake_openai)
    (line,) = failures("grpo", [*base, f"{KW}.judge_model=''"])
    assert line.startswith("FAIL  judge: reward mode 'rule_first' needs a judge")
    assert failures("grpo", [*base, f"{KW}.judge_urls=http://127.0.0.1:9/v1", f"{KW}.mode=never"]) == []


def test_a_sleeping_hosted_judge_is_refused(gpu_node, data_dir, tiny_model_dir):
    gpu_node.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    overrides = hosted(data_dir, tiny_model_dir)
    assert failures("grpo", [*overrides, "reward.reward_model.rollout.free_cache_engine=true"]) == [
        "FAIL  judge: verl-hosted with reward.reward_model.rollout.free_cache_engine=true: verl puts it to sleep "
        "at start -> set reward.reward_model.rollout.free_cache_engine=false (judge/verl_hosted.yaml does)"
    ]
    (line,) = failures("grpo", [*overrides, "reward.reward_model.model_path=/nowhere"])
    assert line.startswith("FAIL  judge model: /nowhere does not exist")


# --- config, environment, the launch gate -------------------------------------------------------
def test_an_invalid_config_is_bad_input(gpu_node, data_dir, tiny_model_dir):
    overrides = [*good_sft(data_dir, tiny_model_dir), "data.train_batch_size=100"]
    (line,) = failures("sft", overrides)
    assert line.startswith("FAIL  config: data.train_batch_size=100 is not divisible by the 8 GPUs")
    assert code("sft", overrides) == exitcodes.BAD_INPUT


def test_torchrun_megatron_needs_one_cuda_connection(gpu_node, data_dir, tiny_model_dir):
    gpu_node.delenv("CUDA_DEVICE_MAX_CONNECTIONS", raising=False)
    # launch sets it for the trainer: only an environment without it (environ={}) fails
    assert failures("sft_megatron", good_sft(data_dir, tiny_model_dir)) == []
    assert failures("sft_megatron", good_sft(data_dir, tiny_model_dir), environ={}) == [
        "FAIL  env: CUDA_DEVICE_MAX_CONNECTIONS=unset: torchrun Megatron needs 1 (verl sets it only for its Ray "
        "workers) -> export CUDA_DEVICE_MAX_CONNECTIONS=1"
    ]
    gpu_node.setenv("CUDA_DEVICE_MAX_CONNECTIONS", "1")
    assert failures("sft_megatron", good_sft(data_dir, tiny_model_dir)) == []


def test_exit_code_order():
    def check(kind):
        return doctor.Check("x", "y", kind, "z")

    assert doctor.exit_code([check(None)]) == exitcodes.DONE
    assert doctor.exit_code([check(doctor.FAILED), check(doctor.BAD_INPUT)]) == exitcodes.BAD_INPUT
    assert doctor.exit_code([check(doctor.BAD_INPUT), check(doctor.NO_GPU)]) == exitcodes.NO_GPU


def test_skip_checks_launches_anyway_and_says_so(gpu_node, data_dir, caplog, capsys):
    gpu_node.setattr(doctor, "visible_gpus", lambda: 0)
    overrides = [f"data.train_files={data_dir}/sft/train.parquet"]
    assert main(["doctor", "sft", *overrides]) == exitcodes.NO_GPU
    gpu_node.setenv(doctor.SKIP_ENV, "1")
    with caplog.at_level(logging.WARNING, logger="finr1_verl.recipes"):
        assert main(["doctor", "sft", *overrides]) == exitcodes.DONE
    assert "FINR1_SKIP_CHECKS=1: launching sft despite 2 failed check(s)" in caplog.text
    assert "FAIL  GPUs: none visible" in capsys.readouterr().out


def test_flags_go_anywhere_and_from_base_has_an_environment_form(
    gpu_node, data_dir, tiny_model_dir, fake_openai, monkeypatch, capsys
):
    overrides = [o for o in good_grpo(data_dir, tiny_model_dir, fake_openai) if "model.path" not in o]
    assert main(["doctor", "grpo", *overrides]) == exitcodes.BAD_INPUT
    assert main(["doctor", "grpo", "--from-base", *overrides]) == exitcodes.DONE
    assert main(["doctor", "grpo", *overrides, "--from-base"]) == exitcodes.DONE
    monkeypatch.setenv("FINR1_FROM_BASE", "1")
    assert main(["doctor", "grpo", *overrides]) == exitcodes.DONE
    capsys.readouterr()


# --- install routes ---------------------------------------------------------------------------
def test_the_megatron_install_route_outside_the_container_points_to_it():
    proc = subprocess.run(
        ["bash", "-c", "source scripts/_venv.sh && ensure_venv megatron"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "PyPI cannot resolve verl[megatron]==0.9.1" in proc.stderr and "docker/Dockerfile" in proc.stderr
