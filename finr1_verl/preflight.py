"""Preflight checks of the node and the cluster around a recipe: driver, build tools, data size, rendezvous.

:mod:`finr1_verl.doctor` checks the installed stack, GPUs, models, data files and judges; the checks
here cover what stops a first GPU run before or right after verl starts:

- the NVIDIA driver against the CUDA build of the installed torch (NVIDIA's minimum driver per CUDA
  major release, https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html);
- ``CUDA_HOME`` and an nvcc of torch's CUDA major before flash-attn is compiled (``scripts/_venv.sh``);
- megatron-bridge for the Megatron engine (the 0.5 line: verl's pin 0.5.2 or its image's r0.5.0);
- train rows against ``data.train_batch_size`` (verl's GRPO trainer divides by its steps per epoch,
  ``len(train) // train_batch_size``: ``verl/trainer/ppo/v1/trainer_base.py:765`` and ``:450``) and at
  least one validation batch;
- several nodes: torchrun SFT needs ``MASTER_ADDR`` / ``NODE_RANK`` on each node, GRPO a reachable
  Ray cluster (``RAY_ADDRESS``), and on that cluster ``finr1_verl`` importable at this version on every
  node (verl's reward workers import it wherever Ray places them).

``python -m finr1_verl.preflight flash-attn-build`` prints the build requirement and exits 1 when it
is not met (the GPU install route calls it before compiling).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from omegaconf import DictConfig
from packaging.specifiers import SpecifierSet

from finr1_verl.doctor import BAD_INPUT, FAILED, LOOPBACK, Check, installed_version, torch_cuda

# Minimum Linux driver branch per CUDA major (NVIDIA, CUDA Compatibility, minor version compatibility).
MIN_DRIVER = {13: 580, 12: 525, 11: 450}
# NVIDIA's forward-compatibility package for a CUDA release, data-centre GPUs only.
COMPAT_DOC = "https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html"
# megatron-bridge versions the Megatron engine accepts (check_megatron_bridge says why).
BRIDGE_ACCEPTED = ">=0.5.0,<0.6"
# flash-attention's README: with ninja 3-5 minutes on 64 cores; without, about 2 hours.
FLASH_BUILD_TIME = "3-5 min on 64 cores with ninja and MAX_JOBS, hours on a few cores"


# --- probes (tests put a fake nvidia-smi / nvcc on PATH) -------------------------------------------
def driver_version() -> str | None:
    """The NVIDIA driver version from ``nvidia-smi``; None when there is no driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    proc = subprocess.run(
        [exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True
    )
    lines = proc.stdout.split()
    return lines[0] if proc.returncode == 0 and lines else None


def nvcc_release(cuda_home: str | None) -> tuple[str | None, str]:
    """(nvcc's release "X.Y", the nvcc used): ``$CUDA_HOME/bin/nvcc``, else nvcc on PATH."""
    candidate = Path(cuda_home, "bin", "nvcc") if cuda_home else None
    exe = str(candidate) if candidate and candidate.is_file() else shutil.which("nvcc")
    if exe is None:
        return None, ""
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    match = re.search(r"release (\d+\.\d+)", proc.stdout)
    return (match[1] if match else None), exe


def parquet_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


# --- checks ------------------------------------------------------------------------------------
def check_driver() -> Iterator[Check]:
    """The driver must be at least the branch torch's CUDA major needs."""
    cuda = torch_cuda()
    if cuda is None:  # a CPU torch: doctor's CUDA check already says so
        return
    major = int(cuda.split(".")[0])
    need = MIN_DRIVER.get(major)
    driver = driver_version()
    if driver is None:
        yield Check(
            "driver",
            f"nvidia-smi not found or failing: no NVIDIA driver for torch's CUDA {cuda}",
            FAILED,
            f"install an NVIDIA driver >= {need} (README, Install: CUDA drivers)",
        )
        return
    if need is not None and int(driver.split(".")[0]) < need:
        yield Check(
            "driver",
            f"NVIDIA driver {driver} is older than CUDA {major} needs (>= {need}): torch {cuda} sees no GPU",
            FAILED,
            f"upgrade the driver to >= {need}; on data-centre GPUs NVIDIA's forward-compatibility package "
            f"cuda-compat-{cuda.replace('.', '-')} instead ({COMPAT_DOC}; README, Install: CUDA drivers)",
        )
        return
    yield Check("driver", f"NVIDIA driver {driver} (CUDA {major} needs >= {need})")


def check_flash_attn_build(environ: Mapping[str, str]) -> Check:
    """What compiling flash-attn against the installed torch needs: CUDA_HOME and nvcc of its CUDA major."""
    cuda = torch_cuda()
    requirement = (
        f"CUDA_HOME set to a CUDA toolkit {cuda or '<torch CUDA>'} whose bin/nvcc matches torch's CUDA major; "
        f"expect {FLASH_BUILD_TIME} (flash-attention README), or set FINR1_FLASH_ATTN_WHEEL to a prebuilt "
        "wheel (README, Install)"
    )
    if cuda is None:
        return Check(
            "flash-attn build", "torch is a CPU build (or missing)", FAILED, "install verl's CUDA torch first"
        )
    cuda_home = environ.get("CUDA_HOME")
    release, exe = nvcc_release(cuda_home)
    if not cuda_home:
        return Check("flash-attn build", "CUDA_HOME is unset", FAILED, requirement)
    if release is None:
        return Check("flash-attn build", f"no nvcc in {cuda_home}/bin or on PATH", FAILED, requirement)
    if release.split(".")[0] != cuda.split(".")[0]:
        return Check(
            "flash-attn build",
            f"nvcc {release} ({exe}) against torch built for CUDA {cuda}: the build fails",
            FAILED,
            requirement,
        )
    return Check(
        "flash-attn build", f"nvcc {release} ({exe}) matches torch's CUDA {cuda}; expect {FLASH_BUILD_TIME}"
    )


def check_megatron_bridge() -> Iterator[Check]:
    """megatron-bridge for the Megatron engine: the 0.5 line, r0.5.0 (the image's) or verl's pin 0.5.2.

    verl 0.9.1 pins 0.5.2, which has no installable release; verl's own image for its 0.9 line (the
    Dockerfile's base) builds Megatron-Bridge r0.5.0 and runs verl's Megatron engine on it.  Both are
    the 0.5 line verl's ``verl/models/mcore/bridge.py`` imports (``AutoBridge``); another line is refused.
    """
    version = installed_version("megatron-bridge") or installed_version("megatron_bridge")
    if version is None:
        yield Check(
            "megatron-bridge",
            f"not installed (verl's Megatron engine imports it; accepted: {BRIDGE_ACCEPTED})",
            FAILED,
            "use docker/Dockerfile (README, Install)",
        )
    elif not SpecifierSet(BRIDGE_ACCEPTED).contains(version, prereleases=True):
        yield Check(
            "megatron-bridge",
            f"{version} installed, accepted {BRIDGE_ACCEPTED} (verl pins 0.5.2, its image ships r0.5.0)",
            FAILED,
            "use docker/Dockerfile (README, Install)",
        )
    else:
        yield Check(
            "megatron-bridge", f"{version} (accepted {BRIDGE_ACCEPTED}; verl pins 0.5.2, its image r0.5.0)"
        )


def check_rows(cfg: DictConfig, kind: str) -> Iterator[Check]:
    """Enough rows for one step per epoch and one validation batch."""
    bsz = int(cfg.data.train_batch_size)
    train, val = cfg.data.get("train_files"), cfg.data.get("val_files")
    for role, value in (("train", train), ("val", val)):
        files = [value] if isinstance(value, str) else list(value or [])
        if not files or not all(Path(f).expanduser().is_file() for f in files):
            continue  # doctor's data check names the missing file
        rows = sum(parquet_rows(str(Path(f).expanduser())) for f in files)
        # SFT validates in batches of train_batch_size with drop_last (verl/trainer/sft_trainer.py:256-266).
        need = bsz if role == "train" or kind == "sft" else 1
        where = ", ".join(str(f) for f in files)
        if rows < need:
            what = (
                "verl would run 0 steps per epoch and stop with ZeroDivisionError"
                if role == "train"
                else "verl would validate on no batch"
            )
            yield Check(
                "rows",
                f"{where} has {rows} {role} rows, fewer than {need} (data.train_batch_size={bsz}): {what}",
                BAD_INPUT,
                f"lower data.train_batch_size to <= {rows} (a multiple of the mini-batch and GPU count) or add data",
            )
        else:
            yield Check("rows", f"{role}: {rows} rows >= {need}")


def _host_port(address: str) -> tuple[str, int] | None:
    """Host and port of a Ray address ("host:port", "ray://host:port"); None for "auto"/"local"."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    return (parts.hostname or "", parts.port or 6379) if parts.hostname else None


def reachable(host: str, port: int, timeout: float = 3.0) -> str:
    """ "" when a TCP connection opens, else the error."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ""
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def check_multi_node(cfg: DictConfig, kind: str, nodes: int, environ: Mapping[str, str]) -> Iterator[Check]:
    """Several nodes: torchrun's rendezvous for SFT, a reachable Ray cluster for GRPO."""
    if nodes <= 1:
        return
    if kind == "sft":
        master, rank = environ.get("MASTER_ADDR"), environ.get("NODE_RANK")
        if not master or master in LOOPBACK or rank is None or rank == "":
            yield Check(
                "rendezvous",
                f"NNODES={nodes} with MASTER_ADDR={master or 'unset'}, NODE_RANK={rank if rank else 'unset'}: "
                "torchrun on every node would wait for itself",
                BAD_INPUT,
                "on every node export MASTER_ADDR=<rank-0 node's address> and NODE_RANK=0..NNODES-1 "
                "(README, Several nodes)",
            )
        else:
            yield Check("rendezvous", f"node {rank} of {nodes}, master {master}")
        return
    address = environ.get("RAY_ADDRESS")
    if not address:
        yield Check(
            "ray",
            f"{nodes} nodes and RAY_ADDRESS unset: verl would start a one-node Ray cluster here",
            BAD_INPUT,
            "ray start --head on one node, ray start --address=<head>:6379 on the others (same venv), "
            "then export RAY_ADDRESS=<head>:6379 (README, Several nodes)",
        )
        return
    target = _host_port(address)
    error = reachable(*target) if target else ""
    if error:
        yield Check(
            "ray",
            f"RAY_ADDRESS={address} does not answer ({error})",
            FAILED,
            "start the cluster (ray start --head) or fix RAY_ADDRESS",
        )
        return
    yield from check_ray_nodes(address)


def _node_report() -> tuple[str, str, str]:
    """(finr1_verl's version or the import error, its folder, the host name): run on each Ray node."""
    import platform

    try:
        from importlib import metadata

        import finr1_verl

        return metadata.version("finr1-verl"), str(Path(finr1_verl.__file__).parent), platform.node()
    except Exception as exc:  # an import failure is exactly what the check reports
        return f"not importable ({type(exc).__name__}: {exc})", "", platform.node()


def check_ray_nodes(address: str) -> Iterator[Check]:
    """One Ray task pinned to each alive node imports finr1_verl: same version as here everywhere."""
    from importlib import metadata

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = metadata.version("finr1-verl")
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError) as exc:  # a port that answers but is no Ray head
            yield Check(
                "ray nodes",
                f"cannot join the Ray cluster at {address}: {str(exc)[:300]}",
                FAILED,
                "start the cluster (ray start --head) or fix RAY_ADDRESS",
            )
            return
    try:
        report = ray.remote(num_cpus=0)(_node_report)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs = [
            report.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote()
            for n in nodes
        ]
        results = []
        for ref in refs:
            try:
                results.append(ray.get(ref, timeout=120))
            except ray.exceptions.RayError as exc:  # the task could not even load this module there
                results.append((f"not importable ({type(exc).__name__})", "", "?"))
    finally:
        if started:
            ray.shutdown()
    bad = [(n["NodeManagerAddress"], r) for n, r in zip(nodes, results, strict=True) if r[0] != here]
    for node, (version, _, host) in bad:
        yield Check(
            "ray nodes",
            f"node {node} ({host}): finr1_verl {version}, this node {here}",
            FAILED,
            "install the same checkout into the same venv path on every node and start ray from it "
            "(README, Several nodes)",
        )
    if not bad:
        yield Check("ray nodes", f"finr1_verl {here} on all {len(nodes)} node(s) of {address}")


if __name__ == "__main__":  # python -m finr1_verl.preflight flash-attn-build: used by scripts/_venv.sh
    if sys.argv[1:] != ["flash-attn-build"]:
        raise SystemExit("usage: python -m finr1_verl.preflight flash-attn-build")
    check = check_flash_attn_build(os.environ)
    print(check.line(), file=sys.stderr if check.kind else sys.stdout)
    sys.exit(1 if check.kind else 0)
