"""The training recipes: configs compose and validate against the installed verl, every value says
where it comes from, no legacy reward key anywhere, the scripts' dry runs, the reward manager verl
builds from the GRPO recipe, and the RL parquet through verl's RLHFDataset with the recipe's settings.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finr1_verl import exitcodes
from finr1_verl.config import CONFIG_DIR
from finr1_verl.recipes import (
    RECIPES,
    RecipeError,
    compose_recipe,
    dry_run,
    legacy_reward_keys,
    validate_recipe,
)
from finr1_verl.smoke.fake_openai import Reply
from tests.support.shared_data import shared_path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = {
    "sft": "recipes/run_fin_r1_sft.sh",
    "sft_megatron": "recipes/run_fin_r1_sft_megatron.sh",
    "grpo": "recipes/run_fin_r1_grpo.sh",
    "grpo_megatron": "recipes/run_fin_r1_grpo_megatron.sh",
}
KW = "reward.custom_reward_function.reward_kwargs"


def _case_id(case: tuple[str, str | None]) -> str:
    return f"{case[0]}-{case[1]}" if case[1] else case[0]


CASES = [("sft", None), ("sft_megatron", None)] + [
    (name, judge) for name in ("grpo", "grpo_megatron") for judge in ("external", "verl_hosted")
]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_recipe_composes_and_passes_verl_validation(case):
    name, judge = case
    cfg = compose_recipe(name, [f"judge={judge}"] if judge else [])
    validate_recipe(name, cfg)
    assert legacy_reward_keys(cfg) == []
    if RECIPES[name].kind == "sft":
        assert cfg.model.path == "Qwen/Qwen2.5-7B-Instruct"
        assert (cfg.optim.lr, cfg.trainer.total_epochs, cfg.data.max_length) == (1e-5, 3, 16384)
        assert cfg.engine._target_.endswith("McoreEngineConfig" if "megatron" in name else "FSDPEngineConfig")
        return
    arr = cfg.actor_rollout_ref
    assert cfg.algorithm.adv_estimator == "grpo"
    assert (arr.rollout.name, arr.rollout.n, arr.rollout.temperature, arr.rollout.top_p) == (
        "vllm",
        8,
        0.6,
        0.95,
    )
    assert (arr.actor.use_kl_loss, arr.actor.kl_loss_coef, arr.actor.kl_loss_type) == (
        True,
        0.001,
        "low_var_kl",
    )
    assert (cfg.data.train_batch_size, arr.actor.ppo_mini_batch_size, arr.actor.optim.lr) == (1024, 256, 1e-6)
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (3072, 4096)
    assert (
        arr.model.use_remove_padding and arr.model.enable_gradient_checkpointing and arr.actor.use_dynamic_bsz
    )
    assert arr.actor.strategy == ("megatron" if "megatron" in name else "fsdp2")
    ref = arr.ref.megatron if "megatron" in name else arr.ref.fsdp_config
    assert ref.param_offload is True
    assert cfg.reward.custom_reward_function.path == "pkg://finr1_verl.reward.score"
    assert cfg.reward.custom_reward_function.name == "compute_score"
    assert cfg.reward.reward_model.enable is (judge == "verl_hosted")
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert kwargs.mode == "rule_first" and kwargs.format_weight == 1.0 and kwargs.accuracy_weight == 1.0
    if judge == "verl_hosted":
        assert kwargs.judge_urls is None and cfg.reward.reward_model.enable_resource_pool
        assert kwargs.judge_model == cfg.reward.reward_model.model_path


def test_reward_kwargs_are_all_known_to_the_reward():
    from finr1_verl.reward.score import KWARGS

    known = set(KWARGS)
    for judge in ("external", "verl_hosted"):
        kwargs = compose_recipe("grpo", [f"judge={judge}"]).reward.custom_reward_function.reward_kwargs
        assert set(kwargs) <= known, set(kwargs) - known


def test_kl_beta_zero_reproduces_the_early_fin_r1_readme():
    cfg = compose_recipe(
        "grpo", ["actor_rollout_ref.actor.use_kl_loss=false", "actor_rollout_ref.actor.kl_loss_coef=0"]
    )
    validate_recipe("grpo", cfg)
    from verl.trainer.ppo.utils import need_reference_policy

    assert not need_reference_policy(cfg)


def test_judge_urls_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("FINR1_JUDGE_URLS", "http://a:8000/v1,http://b:8001/v1")
    cfg = compose_recipe("grpo")
    assert cfg.reward.custom_reward_function.reward_kwargs.judge_urls == "http://a:8000/v1,http://b:8001/v1"


def test_validation_rejects_a_legacy_reward_key():
    cfg = compose_recipe("grpo", ["custom_reward_function.path=pkg://finr1_verl.reward.score"])
    with pytest.raises(RecipeError, match=r"custom_reward_function\.path"):
        validate_recipe("grpo", cfg)


def test_validation_rejects_indivisible_batches():
    with pytest.raises(RecipeError, match="divisible"):
        validate_recipe("sft", compose_recipe("sft", ["trainer.n_gpus_per_node=3"]))
    with pytest.raises(RecipeError, match="ppo_micro_batch_size"):  # verl's own validate_config
        validate_recipe("grpo", compose_recipe("grpo", ["actor_rollout_ref.actor.use_dynamic_bsz=false"]))
    with pytest.raises(RecipeError, match="not a multiple"):
        validate_recipe("grpo", compose_recipe("grpo", ["data.train_batch_size=1000"]))
    with pytest.raises(RecipeError, match="tensor_model_parallel_size"):
        validate_recipe("grpo", compose_recipe("grpo", ["trainer.n_gpus_per_node=3"]))


# --- project-wide checks ------------------------------------------------------------------------
# A legacy key is a top-level ``custom_reward_function`` / ``reward_model`` setting: in YAML at column 0,
# anywhere else a dotted name that is not under ``reward.``.
LEGACY_YAML = re.compile(r"^(custom_reward_function|reward_model)\s*:", re.MULTILINE)
LEGACY_DOTTED = re.compile(
    r"(?<![\w.])(custom_reward_function|reward_model)\."
    r"(path|name|reward_kwargs|enable|enable_resource_pool|model|rollout|reward_manager|n_gpus_per_node|nnodes)\b"
)


def legacy_uses(path: Path, text: str) -> list[str]:
    if path.suffix in (".yaml", ".yml"):
        return [m.group(0) for m in LEGACY_YAML.finditer(text)]
    return [m.group(0) for m in LEGACY_DOTTED.finditer(text)]


def project_files() -> list[Path]:
    """Source, config, script and doc files of the project (not the venv, caches or run outputs)."""
    skip = {
        ".venv",
        ".git",
        "runs",
        "outputs",
        "build",
        "dist",
        "__pycache__",
        ".ruff_cache",
        ".pytest_cache",
    }
    suffixes = (".py", ".sh", ".yaml", ".yml", ".md", ".toml", ".txt", ".json")
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        found += [Path(root, f) for f in files if f.endswith(suffixes) and Path(root, f) != Path(__file__)]
    return found


def test_legacy_key_detector_catches_what_verl_ignores():
    assert legacy_uses(Path("x.sh"), "python -m verl.trainer.main_ppo custom_reward_function.path=x.py")
    assert legacy_uses(Path("x.sh"), "+reward_model.enable=True")
    assert legacy_uses(Path("x.yaml"), "custom_reward_function:\n  path: x\n")
    assert not legacy_uses(
        Path("x.sh"), "reward.custom_reward_function.path=pkg://x reward.reward_model.enable=True"
    )
    assert not legacy_uses(Path("x.yaml"), "reward:\n  custom_reward_function:\n    path: x\n")


def test_no_legacy_reward_key_anywhere_in_the_project():
    offenders = {}
    for path in project_files():
        found = legacy_uses(path, path.read_text(errors="replace"))
        if found:
            offenders[str(path.relative_to(REPO))] = found
    assert offenders == {}, f"verl 0.9 ignores these legacy reward keys: {offenders}"


def test_every_recipe_value_has_a_source_comment():
    missing = []
    for path in sorted(CONFIG_DIR.rglob("*.yaml")):
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            stripped = line.strip()
            is_value = re.match(r"^[\w@/.-]+:\s*\S", stripped) and not stripped.startswith("- ")
            if not is_value:
                continue
            previous = next((p.strip() for p in reversed(lines[:n]) if p.strip()), "")
            if not previous.startswith("#"):
                missing.append(f"{path.name}:{n + 1}: {stripped}")
    assert missing == []


# --- dry runs -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """RL and SFT parquet written by the data CLI from real shared data (TFNS + FinQA)."""
    out = tmp_path_factory.mktemp("prepared")
    sources = [
        f"tfns={shared_path('tfns', 'sent_valid.csv')}",
        f"finqa={shared_path('finqa', 'finqa_test_first100.json')}",
    ]
    cmd = [
        sys.executable,
        "-m",
        "finr1_verl.data.cli",
        "prepare",
        "--no-progress",
        "--include-test",  # the FinQA sample is its test split
        "--include-dev",  # and TFNS's file its validation split
        "--mix",
        "all",
        "--out",
        str(out),
    ]
    cmd += [arg for source in sources for arg in ("--source", source)]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    for split in ("train", "val"):
        assert (out / "rl" / f"{split}.parquet").is_file()
        assert (out / "sft" / f"{split}.parquet").is_file()
    return out


def run_script(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("FINR1_JUDGE_URLS", "FINR1_JUDGE_MODEL", "JUDGE")
    }
    full_env = {**inherited, **env}
    return subprocess.run(
        ["bash", script, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300
    )


# Failures every dry run reports on this CPU-only machine (no GPU, CPU torch, no vLLM / flash-attn).
MACHINE_CHECKS = (
    "GPUs",
    "torch",
    "vllm",
    "flash-attn",
    "CUDA",
    "megatron-core",
    "transformer-engine",
    "megatron-bridge",
)


def failed_checks(stdout: str) -> set[str]:
    return {
        line.split(":")[0].removeprefix("FAIL  ") for line in stdout.splitlines() if line.startswith("FAIL  ")
    }


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_dry_run_composes_validates_and_checks_data_and_judge(
    name, data_dir, fake_openai, tiny_model_dir
):
    """One run per script; the Megatron GRPO twin runs with the judge hosted by verl (both placements)."""
    hosted = name == "grpo_megatron"
    env = {"DATA_DIR": str(data_dir), "MODEL_PATH": str(tiny_model_dir), "FINR1_JUDGE_MODEL": "fake-model"}
    env.update({"JUDGE": "verl_hosted", "JUDGE_MODEL_PATH": str(tiny_model_dir)} if hosted else {})
    env.update(CUDA_DEVICE_MAX_CONNECTIONS="1", SAVE_DIR=str(data_dir / "checkpoints"))
    proc = run_script(
        SCRIPTS[name], "--dry-run", "trainer.total_epochs=2", FINR1_JUDGE_URLS=fake_openai.address, **env
    )
    assert proc.returncode == exitcodes.NO_GPU, proc.stdout + proc.stderr  # this machine has no GPU
    # the hosted judge's own pool makes it a two-node job: no Ray cluster is running here
    expected = {*MACHINE_CHECKS, "ray"} if hosted else set(MACHINE_CHECKS)
    # prepare without distillation writes no SFT rows: the rows check must say so
    expected |= {"rows"} if "sft" in name else set()
    assert failed_checks(proc.stdout) <= expected, proc.stdout
    assert "valid against verl" in proc.stdout and "dry run: nothing started" in proc.stdout
    assert f"ok    data: {data_dir}/{'sft' if 'sft' in name else 'rl'}/train.parquet [ok]" in proc.stdout
    assert f"ok    model: {tiny_model_dir} [ok]" in proc.stdout
    assert "trainer.total_epochs=2" in proc.stdout
    if name == "grpo":  # host:port as verl and serve_judge users write it: probed at /v1/models
        assert f"ok    judge: {fake_openai.base_url} serves fake-model" in proc.stdout
    if hosted:
        assert "verl-hosted" in proc.stdout and "judge: http" not in proc.stdout
    assert fake_openai.requests == []  # GET /v1/models only: no completion was requested


def test_dry_run_names_missing_data_and_a_silent_judge(tmp_path, fake_openai):
    out = io.StringIO()
    dead = "http://127.0.0.1:9/v1"
    overrides = [
        f"data.train_files={tmp_path}/none.parquet",
        f"{KW}.judge_urls='{fake_openai.base_url},{dead}'",
        f"{KW}.judge_model=fake-model",
    ]
    assert dry_run("grpo", overrides, out=out) == exitcodes.NO_GPU
    text = out.getvalue()
    assert f"FAIL  data: {tmp_path}/none.parquet is missing" in text
    assert f"FAIL  judge: {dead} does not answer GET /models" in text
    assert f"ok    judge: {fake_openai.base_url} serves fake-model" in text
    assert "FAIL  model: Qwen/Qwen2.5-7B-Instruct is the base model" in text


@pytest.mark.integration
@pytest.mark.skipif(
    subprocess.run(["sh", "-c", "nvidia-smi -L"], capture_output=True).returncode == 0,
    reason="a GPU is present",
)
def test_scripts_refuse_to_train_without_a_gpu():
    for kind in ("sft", "grpo"):
        proc = run_script(SCRIPTS[kind])
        assert proc.returncode == exitcodes.NO_GPU, proc.stdout + proc.stderr
        assert "FAIL  GPUs: none visible" in proc.stdout
        assert f"run_fin_r1_{kind}.sh --smoke" in proc.stdout


def test_serve_judge_dry_run_plans_replicas_on_consecutive_ports():
    proc = run_script("scripts/serve_judge.sh", "--dry-run", JUDGE_GPUS="0,1,2,3,4,5,6,7", JUDGE_REPLICAS="2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("--tensor-parallel-size 4") == 2
    assert "CUDA_VISIBLE_DEVICES=0,1,2,3 vllm serve Qwen/Qwen2.5-72B-Instruct" in proc.stdout
    assert "CUDA_VISIBLE_DEVICES=4,5,6,7 vllm serve" in proc.stdout
    urls = re.search(r"FINR1_JUDGE_URLS=(\S+)", proc.stdout)[1].split(",")
    assert [u.rsplit(":", 1)[1] for u in urls] == ["8000/v1", "8001/v1"]
    small = run_script("scripts/serve_judge.sh", "--dry-run", "--small", JUDGE_GPUS="0,1")
    assert small.stdout.count("--tensor-parallel-size 1") == 2 and "Qwen/Qwen2.5-7B-Instruct" in small.stdout
    uneven = run_script("scripts/serve_judge.sh", "--dry-run", JUDGE_GPUS="0,1,2", JUDGE_REPLICAS="2")
    assert uneven.returncode == 2 and "cannot be split evenly" in uneven.stderr


def test_pipeline_dry_run_prints_the_plan_for_this_machine():
    proc = run_script("scripts/run_pipeline.sh", "--dry-run", N_GPUS_PER_NODE="0")
    assert proc.returncode == 0, proc.stderr
    assert "CPU smoke chain" in proc.stdout and "nothing installed or started" in proc.stdout
    gpu = run_script(
        "scripts/run_pipeline.sh", "--dry-run", N_GPUS_PER_NODE="8", MODEL_PATH="Qwen/Qwen2.5-7B-Instruct"
    )
    assert "GPU chain on 8 GPU(s)" in gpu.stdout and "finr1-verl[gpu], pip route" in gpu.stdout
    assert "the default GPU route is verl's image: docker build -f docker/Dockerfile" in gpu.stdout
    image = run_script(
        "scripts/run_pipeline.sh", "--dry-run", N_GPUS_PER_NODE="8", FINR1_IMAGE="verlai/verl:x"
    )
    assert "install  : verl's image verlai/verl:x: its Python" in image.stdout


# --- verl components fed by the recipes ---------------------------------------------------------
@pytest.mark.integration
def test_reward_manager_built_by_verl_from_the_grpo_recipe_scores_against_the_judge(
    fake_openai, tiny_tokenizer, tiny_model_dir
):
    """FinQA numbers and TFNS labels are decided by rules; FinCUGE free-text answers go to the judge."""
    from finr1_verl.data.rows import rl_row
    from finr1_verl.data.sources import Rejected, parser_for
    from tests.support.verl_batch import rollout_batch, score_batch

    def rows(source: str, path: Path, n: int) -> list[dict]:
        examples = (e for e in parser_for(source)(path) if not isinstance(e, Rejected))
        return [rl_row(e, i, "train") for i, e in enumerate(islice(examples, n))]

    batch_rows = (
        rows("finqa", shared_path("finqa", "finqa_test_first100.json"), 2)
        + rows("tfns", shared_path("tfns", "sent_valid.csv"), 2)
        + rows("fincuge", shared_path("fincuge", "finqa"), 2)
    )

    def answer(row: dict, wrong: bool = False) -> str:
        gold = row["reward_model"]["ground_truth"][0]
        if row["extra_info"]["answer_type"] == "text":
            gold = f"答案是{gold}"  # a paraphrase: rules cannot decide, the judge must
        elif wrong:
            gold = "2" if gold != "2" else "1"
        return f"<think>\nstep one\nstep two\n</think>\n<answer>\n\\boxed{{{gold}}}\n</answer>"

    responses = [
        answer(r, wrong=i % 2 == 1 and r["extra_info"]["answer_type"] != "text")
        for i, r in enumerate(batch_rows)
    ]
    responses.append("no tags at all: 42")
    batch_rows.append(batch_rows[0])
    fake_openai.responder = lambda body: Reply(content="\\boxed{1}")
    judge = [f"{KW}.judge_urls={fake_openai.base_url}", f"{KW}.judge_model=fake-model"]
    cfg = compose_recipe("grpo", [*judge, f"actor_rollout_ref.model.path={tiny_model_dir}"])
    results = score_batch(cfg, tiny_tokenizer, rollout_batch(batch_rows, responses, tiny_tokenizer))

    info = [r["reward_extra_info"] for r in results]
    assert len({frozenset(i) for i in info}) == 1  # the same keys for every sample
    judged = [i["judged"] for i in info]
    assert judged == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert [r["reward_score"] for r in results] == [2.0, 1.0, 2.0, 1.0, 2.0, 2.0, 0.0]
    assert len(fake_openai.requests) == 2
    assert all(req["model"] == "fake-model" for req in fake_openai.requests)


@pytest.mark.integration
def test_rl_parquet_through_rlhf_dataset_with_the_grpo_data_settings(data_dir, tiny_tokenizer, tmp_path):
    from omegaconf import open_dict
    from verl.utils.dataset.rl_dataset import RLHFDataset

    train = data_dir / "rl" / "train.parquet"
    cfg = compose_recipe("grpo", [f"data.train_files={train}"])
    data_cfg = cfg.data
    with open_dict(data_cfg):
        data_cfg.cache_dir = str(tmp_path / "cache")
    limit = data_cfg.max_prompt_length
    table = pq.read_table(train).to_pylist()
    prompts = [
        tiny_tokenizer.apply_chat_template(list(r["prompt"]), add_generation_prompt=True, tokenize=False)
        for r in table
    ]
    token_lengths = [len(tiny_tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    expected = sum(n <= limit for n in token_lengths)
    assert 0 < expected < len(table), "the sample should hold both short (TFNS) and overlong (FinQA) prompts"

    dataset = RLHFDataset(str(train), tiny_tokenizer, data_cfg)
    assert len(dataset) == expected
    kept_sources = {dataset[i]["data_source"] for i in range(len(dataset))}
    assert "finr1/tfns" in kept_sources
    item = dataset[0]
    assert [m["role"] for m in item["raw_prompt"]] == ["system", "user"]
    assert list(item["reward_model"]["ground_truth"])
    assert set(item["extra_info"]) >= {
        "split",
        "index",
        "id",
        "source",
        "question",
        "answer_type",
        "choices",
        "language",
    }


@pytest.mark.parametrize("name", ["sft_megatron", "grpo"])
def test_launch_runs_exactly_what_its_dry_run_shows(name, monkeypatch, capsys):
    import shlex

    from finr1_verl import recipes

    for key, value in {
        "NNODES": "2",
        "N_GPUS_PER_NODE": "4",
        "MASTER_ADDR": "10.0.0.9",
        "DATA_DIR": "/data/finr1",
        "MODEL_PATH": "/models/sft",
        "FINR1_JUDGE_URLS": "http://j1:8000/v1,http://j2:8000/v1",
        "FINR1_JUDGE_MODEL": "judge",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CUDA_DEVICE_MAX_CONNECTIONS", raising=False)
    monkeypatch.setattr(recipes, "run_checks", lambda *args, **kwargs: [])
    launched, envs = [], []
    monkeypatch.setattr(
        recipes.os, "execve", lambda file, argv, env: (launched.append(argv), envs.append(env))
    )
    assert recipes.main(["launch", name, "--dry-run", "trainer.total_epochs=1"]) == exitcodes.DONE
    shown = shlex.split(capsys.readouterr().out.split("would run:\n  ", 1)[1].split("\n", 1)[0])
    recipes.main(["launch", name, "trainer.total_epochs=1"])
    # the shown line is `VAR=value ... command`: the variables are what launch adds to the environment
    prefix = shown[: next(i for i, t in enumerate(shown) if not re.fullmatch(r"[A-Z_]+=.*", t))]
    assert launched == [shown[len(prefix) :]]
    assert all(envs[0][k] == v for k, v in (t.split("=", 1) for t in prefix))
    argv = launched[0]
    kind = RECIPES[name].kind
    assert f"data.train_files=/data/finr1/{'sft' if kind == 'sft' else 'rl'}/train.parquet" in argv
    assert argv[-1] == "trainer.total_epochs=1"  # the command line's overrides come last
    if kind == "sft":
        run = [sys.executable, "-m", "torch.distributed.run"]
        assert argv[:6] == [*run, "--nnodes=2", "--nproc_per_node=4", "--node_rank=0"]
        assert "--master_addr=10.0.0.9" in argv and envs[0]["CUDA_DEVICE_MAX_CONNECTIONS"] == "1"
        assert prefix == ["CUDA_DEVICE_MAX_CONNECTIONS=1"]
    else:
        assert argv[:3] == [sys.executable, "-m", "verl.trainer.main_ppo"]
        kw = "reward.custom_reward_function.reward_kwargs"
        assert f"{kw}.judge_urls='http://j1:8000/v1,http://j2:8000/v1'" in argv
        assert f"{kw}.judge_model=judge" in argv
