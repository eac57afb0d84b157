"""A transformers rollout backend for verl's server-mode rollout, for the CPU smoke mode and tests.

verl 0.9.1 generates rollouts through servers only: the agent loop sends
``generate(request_id, prompt_ids, sampling_params, ...)`` to a replica's server actor
(``verl/workers/rollout/replica.py``, ``RolloutReplicaRegistry``), and the actor worker pushes the
trained weights to that server through a ServerAdapter (``verl/workers/rollout/base.py``,
``_ROLLOUT_REGISTRY``) at every sync.  vLLM fills both roles on GPUs; here a Ray actor that holds
the model in transformers does, so verl's real GRPO trainer runs end to end on a CPU.

- :class:`HFServer` loads the model from ``actor_rollout_ref.model.path``, samples with
  ``model.generate`` (temperature / top-p / top-k as the agent loop asks, greedy at temperature 0)
  and returns verl's ``TokenOutput`` with the sampled tokens' log-probs.
- :class:`HFServerAdapter` runs in the actor worker: ``update_weights()`` receives verl's
  ``(name, tensor)`` stream (``get_per_tensor_param()``) and loads it into the server's model.
- :class:`HFReplica` starts one server per replica on the node of its first worker.

When ``FINR1_SMOKE_ROLLOUT_LOG`` names a file, the server appends one JSON line per generated
sequence (start/end time, tokens, global step) and one per weight sync with the mean log-prob of a
fixed probe sequence under the new weights, so a run can show that the policy it samples from
changed (tests) and when the last rollout of a step finished (bench/bench_grpo_overlap.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

LOG_ENV = "FINR1_SMOKE_ROLLOUT_LOG"


def server_name(replica_rank: int) -> str:
    """The Ray actor name of a replica's server (the adapter finds its server by this name)."""
    return f"finr1_hf_rollout_server_{replica_rank}"


def _model_path(model_config: Any) -> str:
    """``local_path`` or ``path`` of verl's model config (a DictConfig or an HFModelConfig)."""
    for key in ("local_path", "path"):
        value = (
            model_config.get(key) if isinstance(model_config, Mapping) else getattr(model_config, key, None)
        )
        if value:
            return str(value)
    raise ValueError("actor_rollout_ref.model has neither local_path nor path")


class HFServer:
    """One rollout server: a transformers causal LM answering verl's token-in, token-out requests."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int) -> None:
        from transformers import AutoModelForCausalLM

        self.config = config
        self.replica_rank = replica_rank
        path = _model_path(model_config)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        self.eos_token_id = self.model.generation_config.eos_token_id
        self.pad_token_id = self.model.generation_config.pad_token_id
        self.global_steps: int | None = None
        self.lock = asyncio.Lock()
        self.probe: list[int] | None = None  # the first prompt + response served: the fixed probe
        self.log_path = os.environ.get(LOG_ENV)

    def ready(self) -> bool:
        return True

    def _log(self, record: dict) -> None:
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps({"replica": self.replica_rank, **record}) + "\n")

    def _max_tokens(self, prompt_len: int, sampling_params: dict) -> int:
        cfg = self.config
        limit = sampling_params.pop("max_tokens", None) or sampling_params.pop("max_new_tokens", None)
        budget = min(cfg.response_length, cfg.prompt_length + cfg.response_length - prompt_len)
        return max(1, min(limit or budget, budget))

    @torch.no_grad()
    def _generate(self, prompt_ids: list[int], sampling_params: dict) -> tuple[list[int], list[float]]:
        max_tokens = self._max_tokens(len(prompt_ids), sampling_params)
        temperature = float(sampling_params.get("temperature", 1.0))
        sample = temperature > 0
        kwargs: dict[str, Any] = {"do_sample": sample}
        if sample:
            top_k = int(sampling_params.get("top_k", -1))
            kwargs.update(temperature=temperature, top_p=float(sampling_params.get("top_p", 1.0)))
            kwargs["top_k"] = top_k if top_k > 0 else None
        out = self.model.generate(
            torch.tensor([prompt_ids]),
            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
            max_new_tokens=max_tokens,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
            output_scores=True,
            return_dict_in_generate=True,
            **kwargs,
        )
        tokens = out.sequences[0, len(prompt_ids) :].tolist()
        # Log-probs of the sampled tokens under the processed distribution (verl's default
        # rollout.logprobs_mode=processed_logprobs).
        log_probs = [
            torch.log_softmax(score[0].float(), dim=-1)[token].item()
            for score, token in zip(out.scores, tokens, strict=False)
        ]
        return tokens, log_probs

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Any = None,
        video_data: Any = None,
        **kwargs: Any,
    ) -> TokenOutput:
        prompt_ids = list(prompt_ids)
        async with self.lock:
            start = time.time()
            tokens, log_probs = await asyncio.to_thread(self._generate, prompt_ids, dict(sampling_params))
            end = time.time()
        if self.probe is None:
            self.probe = prompt_ids + tokens
        self._log(
            {
                "event": "generate",
                "step": self.global_steps,
                "start": start,
                "end": end,
                "tokens": len(tokens),
            }
        )
        return TokenOutput(
            token_ids=tokens,
            log_probs=log_probs if sampling_params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )

    @torch.no_grad()
    def _probe_logprob(self) -> float | None:
        """Mean next-token log-prob of the probe sequence under the current weights."""
        if not self.probe or len(self.probe) < 2:
            return None
        ids = torch.tensor([self.probe])
        logits = self.model(ids).logits[0, :-1].float()
        return torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None]).mean().item()

    async def update_weights(self, named_tensors: dict[str, torch.Tensor], global_steps: int | None) -> int:
        """Load the trainer's weights; returns how many tensors were loaded."""
        async with self.lock:
            before = self._probe_logprob()
            state = self.model.state_dict()
            unknown = sorted(set(named_tensors) - set(state))
            if unknown:
                raise KeyError(f"rollout model has no parameters named {unknown[:5]}")
            self.model.load_state_dict(named_tensors, strict=False)
            if self.model.config.tie_word_embeddings:
                self.model.tie_weights()
            after = self._probe_logprob()
        if global_steps is not None:
            self.global_steps = global_steps
        self._log(
            {
                "event": "weights",
                "step": global_steps,
                "time": time.time(),
                "tensors": len(named_tensors),
                "probe_logprob_before": before,
                "probe_logprob_after": after,
            }
        )
        return len(named_tensors)

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    # Memory and scheduling controls verl sends to every server: nothing to free or pause on CPU.
    async def wake_up(self, tags: list[str] | None = None) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        return {}

    async def resume_generation(self) -> None:
        return None

    async def wait_for_requests_to_drain(self) -> None:
        async with self.lock:
            return None

    async def start_profile(self, **kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class HFReplica(RolloutReplica):
    """A rollout replica served by one :class:`HFServer` on the node of its first worker."""

    async def launch_servers(self) -> None:
        node_id = await self.workers[0].__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
        name = server_name(self.replica_rank)
        server = (
            ray.remote(HFServer)
            .options(
                name=name,
                num_cpus=0,
                max_concurrency=self.max_concurrency,
                scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                    node_id=node_id, soft=False
                ),
            )
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.ready.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = name


def _full_tensors(weights: Iterable[tuple[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    tensors = {}
    for name, tensor in weights:
        if hasattr(tensor, "full_tensor"):
            tensor = tensor.full_tensor()
        tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
    return tensors


class HFServerAdapter(BaseRollout):
    """The actor worker's handle on its replica's :class:`HFServer`: pushes weights at every sync."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        per_replica = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // per_replica if replica_rank == -1 else replica_rank
        self.is_leader = rank % per_replica == 0
        self.server = None

    def _server(self):
        if self.server is None:
            self.server = ray.get_actor(server_name(self.replica_rank))
        return self.server

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(self, weights, wire_format: str = "named_tensors", **kwargs: Any) -> None:
        if wire_format != "named_tensors":
            raise ValueError(f"the hf rollout backend takes full named tensors, not {wire_format!r}")
        # Every rank consumes the stream (it may gather shards collectively); the leader sends.
        tensors = _full_tensors(weights)
        if self.is_leader:
            await self._server().update_weights.remote(tensors, kwargs.get("global_steps"))
