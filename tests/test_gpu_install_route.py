"""The GPU pip route (``ensure_venv gpu`` in scripts/_venv.sh) under pip's real resolver.

The route runs as a user runs it, in a fresh venv, with ``FINR1_PIP_REPORT_DIR`` turning every install
into ``pip install --dry-run --report``: pip resolves against the package index from published metadata
(PEP 658), so no CUDA wheel is downloaded.  flash-attn 2.8.3 is a source package whose metadata step
imports torch, so the route is given a wheel (``FINR1_FLASH_ATTN_WHEEL``), as a user with a prebuilt
wheel gives it: a stand-in with flash-attn's name, version and requirements (torch, einops).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from finr1_verl import verl_pins

REPO = Path(__file__).resolve().parents[1]
TORCH_STACK = {"torch": "2.11.0", "torchvision": "0.26.0", "torchaudio": "2.11.0"}


@pytest.fixture(scope="module")
def published():
    try:
        return verl_pins.published_requires()
    except SystemExit as err:
        pytest.skip(f"the package index is not reachable (the route reads verl's published metadata): {err}")


def test_the_route_pins_verls_published_release(published):
    names = ["torch", "torchvision", "torchaudio", "flash-attn"]
    expected = [f"{n}=={v}" for n, v in TORCH_STACK.items()] + ["flash-attn==2.8.3"]
    assert verl_pins.pins("vllm,fsdp", names, published) == expected
    assert verl_pins.pins("vllm,fsdp", names, verl_pins.installed_requires()) == expected
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"verl[verl-core]=={verl_pins.VERL_VERSION}"' in pyproject
    with pytest.raises(SystemExit, match="does not require"):
        verl_pins.pins("vllm,fsdp", ["megatron-core"], published)
    cli = [sys.executable, "-m", "finr1_verl.verl_pins", "vllm,fsdp", "torch", "flash-attn"]
    out = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["torch==2.11.0", "flash-attn==2.8.3"]


def test_inside_verls_image_the_route_uses_its_python(tmp_path):
    """docker/Dockerfile sets FINR1_IMAGE: no venv, the image's Python (here: one that has the project)."""
    env = {**os.environ, "FINR1_IMAGE": "verlai/verl:vllm024.dev2", "FINR1_VENV": str(tmp_path / "venv")}
    for extras in ("gpu", "megatron"):
        proc = subprocess.run(
            ["bash", "-c", f"source scripts/_venv.sh && ensure_venv {extras} && command -v python"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert proc.stdout.strip() == str(Path(sys.executable).parent / "python"), extras
    assert not (tmp_path / "venv").exists()


def _stand_in_flash_attn(folder: Path) -> Path:
    wheel = folder / "flash_attn-2.8.3-py3-none-any.whl"
    info = "flash_attn-2.8.3.dist-info"
    files = {
        "flash_attn/__init__.py": '__version__ = "2.8.3"\n',
        f"{info}/METADATA": (
            "Metadata-Version: 2.1\nName: flash-attn\nVersion: 2.8.3\nRequires-Dist: torch\nRequires-Dist: einops\n"
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"]))
    return wheel


def _items(report: Path) -> list[dict]:
    return json.loads(report.read_text(encoding="utf-8"))["install"]


def _resolved(report: Path) -> dict[str, list[str]]:
    """Package name -> the versions a dry-run report would install (a list, to catch duplicates)."""
    found: dict[str, list[str]] = {}
    for item in _items(report):
        found.setdefault(verl_pins.canonical(item["metadata"]["name"]), []).append(
            item["metadata"]["version"]
        )
    return found


def _wheel_urls(report: Path) -> dict[str, str]:
    return {verl_pins.canonical(i["metadata"]["name"]): i["download_info"]["url"] for i in _items(report)}


@pytest.mark.timeout(900)
def test_the_gpu_route_resolves_torch_once_at_verls_pin(published, tmp_path):
    venv, reports, cache = tmp_path / "venv", tmp_path / "reports", tmp_path / "pip-cache"
    wheel = _stand_in_flash_attn(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "FINR1_IMAGE")}
    env |= {
        "FINR1_VENV": str(venv),
        "FINR1_PIP_REPORT_DIR": str(reports),
        "FINR1_FLASH_ATTN_WHEEL": str(wheel),
        "PIP_CACHE_DIR": str(cache),
    }
    proc = subprocess.run(
        ["bash", "-c", "source scripts/_venv.sh && ensure_venv gpu"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "the default GPU route is verl's image" in proc.stdout
    steps = sorted(p.name for p in reports.glob("*.json"))
    assert steps == ["1-torch.json", "2-project.json", "4-gpu.json"]

    first = _resolved(reports / "1-torch.json")
    assert {name: first[name] for name in TORCH_STACK} == {n: [v] for n, v in TORCH_STACK.items()}
    # verl's torch comes before anything that depends on torch: the first step installs torch's stack only
    assert not {"verl", "finr1-verl", "tensordict", "torchdata", "peft", "accelerate", "vllm"} & set(first)
    for step in steps:
        resolved = _resolved(reports / step)
        assert resolved["torch"] == ["2.11.0"], step
        for name in ("torchvision", "torchaudio"):
            assert resolved.get(name, [TORCH_STACK[name]]) == [TORCH_STACK[name]], (step, name)
    project = _resolved(reports / "2-project.json")
    assert project["verl"] == ["0.9.1"] and "tensordict" in project and "finr1-verl" in project
    gpu = _resolved(reports / "4-gpu.json")
    assert gpu["vllm"] == ["0.24.0"] and gpu["flash-attn"] == ["2.8.3"]
    assert _wheel_urls(reports / "4-gpu.json")["flash-attn"] == wheel.as_uri()

    # dry runs only: nothing installed, no stamp, and no CUDA wheel fetched (torch's is ~900 MB)
    assert not list(venv.glob(".finr1-installed-*"))
    assert not list((venv / "lib").glob("python3*/site-packages/torch"))
    biggest = max((p.stat().st_size for p in cache.rglob("*") if p.is_file()), default=0)
    assert biggest < 50 * 2**20, f"pip downloaded a {biggest / 2**20:.0f} MB file"

    # What the order prevents: the project resolved on its own picks a torch other than verl's pin.
    alone = tmp_path / "alone.json"
    cmd = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed"]
    subprocess.run(
        [*cmd, "--report", str(alone), "-e", "."], cwd=REPO, env=env, check=True, capture_output=True
    )
    (torch_alone,) = _resolved(alone)["torch"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", torch_alone) and torch_alone != "2.11.0"
