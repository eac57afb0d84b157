"""Preflight checks of a first GPU run, each failure provoked on CPU.

The driver and nvcc probes run real executables: a fake ``nvidia-smi`` / ``nvcc`` (a shell script
printing what the real tool prints) is put first on PATH.  Row counts read real parquet; rendezvous
checks read a given environment; the Ray check runs one task on a real local one-node cluster.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finr1_verl import doctor, preflight, recipes
from finr1_verl.recipes import compose_recipe, dry_run, run_checks


def _tool(folder: Path, name: str, stdout: str, rc: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\nexit {rc}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


@pytest.fixture
def fake_bin(tmp_path, monkeypatch) -> Path:
    """A folder first on PATH (and nothing else with nvidia-smi or nvcc)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return folder


def _failures(checks) -> list[str]:
    return [c.line() for c in checks if c.kind]


# --- driver ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("torch_cuda", "driver", "ok"),
    [
        ("13.0", "580.65.06", True),
        ("13.0", "570.133.20", False),
        ("12.8", "570.133.20", True),
        ("12.8", "470.1", False),
    ],
)
def test_driver_against_torch_cuda_build(fake_bin, monkeypatch, torch_cuda, driver, ok):
    _tool(fake_bin, "nvidia-smi", f"{driver}\n{driver}")  # two GPUs: one line each
    monkeypatch.setattr(preflight, "torch_cuda", lambda: torch_cuda)
    checks = list(preflight.check_driver())
    assert len(checks) == 1
    if ok:
        assert not checks[0].kind and driver in checks[0].line()
    else:
        line = checks[0].line()
        assert (
            checks[0].kind == doctor.FAILED and driver in line and f"CUDA {torch_cuda.split('.')[0]}" in line
        )
        assert (
            str(preflight.MIN_DRIVER[int(torch_cuda.split(".")[0])]) in line and "upgrade the driver" in line
        )
        assert f"cuda-compat-{torch_cuda.replace('.', '-')}" in line


def test_no_driver_is_named_and_cpu_torch_is_left_to_the_cuda_check(fake_bin, monkeypatch):
    monkeypatch.setattr(preflight, "torch_cuda", lambda: "13.0")
    assert "nvidia-smi not found" in _failures(preflight.check_driver())[0]
    _tool(
        fake_bin, "nvidia-smi", "NVIDIA-SMI has failed because it couldn't communicate with the driver", rc=9
    )
    assert "nvidia-smi not found or failing" in _failures(preflight.check_driver())[0]
    monkeypatch.setattr(preflight, "torch_cuda", lambda: None)
    assert list(preflight.check_driver()) == []


# --- flash-attn build --------------------------------------------------------------------------
NVCC = "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release {v}, V{v}.88\nBuild cuda_{v}"


def test_flash_attn_build_needs_cuda_home_and_a_matching_nvcc(tmp_path, fake_bin, monkeypatch):
    monkeypatch.setattr(preflight, "torch_cuda", lambda: "13.0")
    unset = preflight.check_flash_attn_build({})
    assert unset.kind == doctor.FAILED and "CUDA_HOME is unset" in unset.line()
    assert "FINR1_FLASH_ATTN_WHEEL" in unset.line() and "nvcc" in unset.line()
    home = tmp_path / "cuda-12.4"
    assert "no nvcc" in preflight.check_flash_attn_build({"CUDA_HOME": str(home)}).line()
    _tool(home / "bin", "nvcc", NVCC.format(v="12.4"))
    old = preflight.check_flash_attn_build({"CUDA_HOME": str(home)})
    assert old.kind == doctor.FAILED and "nvcc 12.4" in old.line() and "CUDA 13.0" in old.line()
    _tool(home / "bin", "nvcc", NVCC.format(v="13.0"))
    assert not preflight.check_flash_attn_build({"CUDA_HOME": str(home)}).kind
    monkeypatch.setattr(preflight, "torch_cuda", lambda: None)
    assert preflight.check_flash_attn_build({"CUDA_HOME": str(home)}).kind == doctor.FAILED


# --- megatron-bridge ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "ok"), [("0.5.0", True), ("0.5.2", True), ("0.4.1", False), ("0.6.0", False), (None, False)]
)
def test_megatron_bridge_accepts_the_0_5_line(monkeypatch, version, ok):
    monkeypatch.setattr(preflight, "installed_version", lambda name: version)
    (check,) = preflight.check_megatron_bridge()
    assert bool(check.kind) is not ok
    if not ok:
        assert "docker/Dockerfile" in check.line()


# --- rows --------------------------------------------------------------------------------------
def _parquet(path: Path, rows: int) -> str:
    pq.write_table(pa.table({"x": list(range(rows))}), path)
    return str(path)


@pytest.mark.parametrize("name", ["grpo", "sft"])
def test_train_rows_must_fill_one_batch_and_val_one_row(tmp_path, name):
    kind = recipes.RECIPES[name].kind
    few = _parquet(tmp_path / "train.parquet", 3)
    empty = _parquet(tmp_path / "val.parquet", 0)
    cfg = compose_recipe(
        name, [f"data.train_files={few}", f"data.val_files={empty}", "data.train_batch_size=4"]
    )
    bad = _failures(preflight.check_rows(cfg, kind))
    assert len(bad) == 2
    assert few in bad[0] and "3 train rows, fewer than 4" in bad[0] and "ZeroDivisionError" in bad[0]
    assert empty in bad[1] and "0 val rows" in bad[1]
    enough = _parquet(tmp_path / "train4.parquet", 4)
    val = _parquet(tmp_path / "val4.parquet", 4)
    cfg = compose_recipe(
        name, [f"data.train_files={enough}", f"data.val_files={val}", "data.train_batch_size=4"]
    )
    assert _failures(preflight.check_rows(cfg, kind)) == []
    # the check is part of every doctor / dry-run report
    cfg = compose_recipe(
        name, [f"data.train_files={few}", f"data.val_files={val}", "data.train_batch_size=4"]
    )
    assert any(
        "fewer than 4" in line for line in _failures(run_checks(name, cfg, smoke=True, from_base=True))
    )


# --- several nodes -----------------------------------------------------------------------------
def test_multi_node_sft_needs_a_rendezvous():
    cfg = compose_recipe("sft", ["trainer.nnodes=2"])
    for env in ({}, {"MASTER_ADDR": "127.0.0.1", "NODE_RANK": "0"}, {"MASTER_ADDR": "10.0.0.1"}):
        (check,) = preflight.check_multi_node(cfg, "sft", 2, env)
        assert (
            check.kind == doctor.BAD_INPUT and "MASTER_ADDR" in check.line() and "NODE_RANK" in check.line()
        )
    (check,) = preflight.check_multi_node(cfg, "sft", 2, {"MASTER_ADDR": "10.0.0.1", "NODE_RANK": "1"})
    assert not check.kind
    assert list(preflight.check_multi_node(cfg, "sft", 1, {})) == []


def test_multi_node_grpo_needs_a_reachable_ray_cluster():
    cfg = compose_recipe("grpo", ["trainer.nnodes=2"])
    (check,) = preflight.check_multi_node(cfg, "grpo", 2, {})
    assert (
        check.kind == doctor.BAD_INPUT and "RAY_ADDRESS unset" in check.line() and "ray start" in check.line()
    )
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (check,) = preflight.check_multi_node(cfg, "grpo", 2, {"RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert check.kind == doctor.FAILED and "does not answer" in check.line()


@pytest.mark.slow
def test_finr1_verl_version_is_checked_on_every_ray_node():
    """A real one-node Ray cluster: the per-node task imports finr1_verl at this version."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        checks = list(preflight.check_ray_nodes(address))
    finally:
        ray.shutdown()
    assert _failures(checks) == [] and "on all 1 node(s)" in checks[0].line()


# --- Megatron SFT environment: dry-run and launch agree ----------------------------------------
def test_sft_megatron_dry_run_and_launch_agree_on_cuda_device_max_connections(monkeypatch, capsys):
    monkeypatch.delenv("CUDA_DEVICE_MAX_CONNECTIONS", raising=False)
    out = io.StringIO()
    dry_run("sft_megatron", [], out=out)
    recipes.main(["launch", "sft_megatron", "--dry-run"])
    for text in (out.getvalue(), capsys.readouterr().out):
        assert "CUDA_DEVICE_MAX_CONNECTIONS=1 " in text  # the would-run line sets it
        assert "CUDA_DEVICE_MAX_CONNECTIONS=unset" not in text  # and the check sees what launch sets
    assert "CUDA_DEVICE_MAX_CONNECTIONS" not in os.environ
    cfg = compose_recipe("sft_megatron")
    assert not [c for c in run_checks("sft_megatron", cfg, smoke=False, from_base=True) if c.what == "env"]
    bad = run_checks("sft_megatron", cfg, smoke=False, from_base=True, environ={})
    assert any(c.what == "env" and c.kind for c in bad)
