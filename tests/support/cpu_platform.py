"""A CPU platform for verl, registered through verl's own plugin hooks, so its SFT trainer runs in tests.

verl 0.9.1 ships platforms for CUDA, NPU and ROCm only and falls back to "nvidia" on a CPU-only
machine.  Importing this module (verl does it for every process when
``VERL_USE_EXTERNAL_MODULES=tests.support.cpu_platform`` and the repository root is on
``PYTHONPATH``) registers a platform named "cpu"; ``VERL_PLATFORM=cpu`` selects it.  It reports the
device "cpu" and the gloo backend.  verl builds its process-group backend string as
``cpu:gloo,<device>:<backend>``, which torch rejects when both halves name "cpu", so process-group
initialisation is given plain "gloo" in that case.

The rest of what the trainer needs on CPU is configuration: see ``tests/support/cpu_sft.py``.
This shim exists for tests and the CPU smoke run only; it is never part of the installed package.
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
        return "CPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def _plain_gloo(init_process_group):
    """Collapse ``cpu:gloo,cpu:gloo`` (verl's string for a CPU device) to ``gloo``."""

    @functools.wraps(init_process_group)
    def wrapper(*args: Any, **kwargs: Any):
        if kwargs.get("backend") == "cpu:gloo,cpu:gloo":
            kwargs["backend"] = "gloo"
        return init_process_group(*args, **kwargs)

    wrapper.__wrapped_by_finr1_cpu_platform__ = True
    return wrapper


if not getattr(torch.distributed.init_process_group, "__wrapped_by_finr1_cpu_platform__", False):
    torch.distributed.init_process_group = _plain_gloo(torch.distributed.init_process_group)
