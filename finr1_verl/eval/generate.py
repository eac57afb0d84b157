"""Responses of the model under test: vLLM offline for a local checkpoint, or any OpenAI-compatible endpoint.

Both backends take ``(key, messages)`` requests and yield ``(key, Generation)`` as results arrive,
so the runner can score and save each item at once (an interrupted run keeps what it finished).
Sampling defaults are the paper's evaluation settings (temperature 0.6, top_p 0.95, max_tokens
4096) and every request carries the run's seed, so a rerun samples the same way where the server
honours seeds (vLLM does, per request).  Every backend sends the same explicit settings
(:meth:`Sampling.request_fields`): top_k disabled and repetition penalty 1.0 unless set, because a
server left to fill them in applies the model's ``generation_config.json`` (Qwen2.5-7B-Instruct's
sets top_k 20 and repetition_penalty 1.05; ``vllm serve`` reads it unless started with
``--generation-config vllm``) while vLLM's offline ``SamplingParams`` would not, and the same model
and seed would then sample differently by backend.

* :class:`EndpointBackend` sends requests through the project's one LLM client (concurrency per
  endpoint, timeouts, bounded retries).  A request that still fails is a ``Generation`` with an
  ``error`` (the LLM error kind), never an exception: the item is recorded as failed and retried by
  the next run.  When the server's reasoning parser splits the reasoning off, it is put back in
  ``<think>`` tags so the format check sees the whole response.
* :class:`VLLMBackend` feeds every prompt to one ``vllm.LLM`` engine at once and yields each answer
  the step it finishes (the model's own chat template; HF checkpoints, including verl checkpoints
  converted to HF): the scheduler keeps its batch full, with no chunk that waits on its longest
  answer.  vLLM is imported only here.
* :class:`HFBackend` runs ``transformers`` ``generate`` in batches on this machine: for small models
  and CPU-only machines (the CPU smoke chain evaluates its GRPO-trained tiny model with it).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from finr1_verl.llm import LLMClient, LLMError
from finr1_verl.reward.format import THINK_CLOSE, render_thinking

Messages = list[dict[str, str]]
Request = tuple[str, Messages]


@dataclass(frozen=True)
class Sampling:
    """Generation settings; the defaults are Fin-R1's evaluation settings (paper §5)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int = 0
    top_k: int = -1  # -1: disabled (every token stays a candidate), vLLM's convention
    repetition_penalty: float = 1.0  # 1.0: none

    def request_fields(self) -> dict[str, Any]:
        """The settings every backend passes explicitly, so no server default fills a gap."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
        }


def sampling_params_kwargs(sampling: Sampling) -> dict[str, Any]:
    """The keyword arguments of the offline backend's ``vllm.SamplingParams``: the request's own fields."""
    return sampling.request_fields()


def hf_generate_kwargs(sampling: Sampling) -> dict[str, Any]:
    """``transformers`` ``generate`` settings equal to the request's; each one given, as the model's
    ``generation_config.json`` fills in any left out (transformers' top_k is 50 when nothing sets it)."""
    fields = sampling.request_fields()
    kwargs: dict[str, Any] = {
        "max_new_tokens": fields["max_tokens"],
        "repetition_penalty": fields["repetition_penalty"],
    }
    if fields["temperature"] == 0:  # greedy, as vLLM reads temperature 0
        return kwargs | {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    top_k = fields["top_k"] if fields["top_k"] > 0 else 0  # transformers: 0 disables
    return kwargs | {
        "do_sample": True,
        "temperature": fields["temperature"],
        "top_p": fields["top_p"],
        "top_k": top_k,
    }


@dataclass(frozen=True)
class Generation:
    response: str | None  # the whole response text; None when generation failed
    finish_reason: str | None = None  # "length" marks a response cut at max_tokens
    completion_tokens: int = 0
    error: str | None = None  # LLM error kind (connect, timeout, server, ...) after all retries


def with_reasoning(content: str, reasoning: str | None) -> str:
    """The response as the model wrote it, when a reasoning parser returned the thinking separately."""
    if not reasoning or THINK_CLOSE in content:
        return content
    return f"{render_thinking(reasoning.strip())}\n{content.lstrip()}"


class EndpointBackend:
    """The model under test behind one or several OpenAI-compatible endpoints (e.g. ``vllm serve``)."""

    def __init__(
        self,
        urls: str | Sequence[str],
        model: str,
        sampling: Sampling,
        *,
        concurrency: int = 256,
        timeout_s: float = 900.0,
        max_retries: int = 3,
        api_key: str | None = None,
    ):
        self.sampling = sampling
        self.client = LLMClient(
            urls,
            model,
            api_key=api_key,
            api_key_env=("FINR1_EVAL_API_KEY", "OPENAI_API_KEY"),
            max_concurrency=concurrency,
            timeout_s=timeout_s,
            max_retries=max_retries,
            cache_size=0,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            seed=sampling.seed,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": "endpoint", "model": self.client.model}

    def stats(self) -> dict[str, int]:
        """Request counters of the shared client (retries, failures by kind, tokens)."""
        return self.client.stats.snapshot()

    async def _one(self, key: str, messages: Messages) -> tuple[str, Generation]:
        fields = self.sampling.request_fields()
        try:
            result = await self.client.chat(
                messages,
                max_tokens=fields.pop("max_tokens"),
                temperature=fields.pop("temperature"),
                top_p=fields.pop("top_p"),
                seed=fields.pop("seed"),
                extra_body=fields,  # top_k, repetition_penalty: vLLM's OpenAI server reads them
                use_cache=False,
            )
        except LLMError as err:
            return key, Generation(None, error=err.kind)
        response = with_reasoning(result.content, result.reasoning_content)
        return key, Generation(response, result.finish_reason, result.usage.completion_tokens)

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[str, Generation]]:
        tasks = [asyncio.ensure_future(self._one(key, messages)) for key, messages in requests]
        try:
            for done in asyncio.as_completed(tasks):
                yield await done
        finally:
            for task in tasks:
                task.cancel()
            await self.client.aclose()


def import_vllm() -> Any:
    """The vllm module, or an error that says how to get it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as err:
        raise RuntimeError(
            "offline generation needs vLLM, which is not installed in this environment "
            f"({err}). On a GPU node: pip install 'finr1-verl[gpu]'; or serve the model with "
            "`vllm serve MODEL` and pass --model-urls URL instead of a local --model path."
        ) from err


class VLLMBackend:
    """A local HF checkpoint generated by ``vllm.LLM`` on this node's GPUs."""

    def __init__(
        self,
        model_path: str,
        sampling: Sampling,
        *,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
    ):
        vllm = import_vllm()
        self.model_path = model_path
        self.requests = 0
        self.completion_tokens = 0
        self.params = vllm.SamplingParams(**sampling_params_kwargs(sampling))
        self.llm = vllm.LLM(
            model=model_path,
            seed=sampling.seed,
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
        )
        self.sampling = sampling

    def describe(self) -> dict[str, Any]:
        return {"backend": "vllm", "model": self.model_path}

    def stats(self) -> dict[str, int]:
        return {"requests": self.requests, "completion_tokens": self.completion_tokens}

    def _finished(self) -> list[Any]:
        """One engine step: the outputs of the requests that finished in it (the loop of ``LLM.generate``)."""
        return [output for output in self.llm.llm_engine.step() if output.finished]

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[str, Generation]]:
        """Every prompt queued at once; each answer is yielded (and saved) in the step it finishes."""
        engine, tokenizer = self.llm.llm_engine, self.llm.get_tokenizer()
        for key, messages in requests:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            engine.add_request(key, {"prompt_token_ids": list(ids)}, self.params)
        try:
            while engine.has_unfinished_requests():
                for output in await asyncio.to_thread(self._finished):
                    completion = output.outputs[0]
                    self.requests += 1
                    self.completion_tokens += len(completion.token_ids)
                    yield (
                        output.request_id,
                        Generation(completion.text, completion.finish_reason, len(completion.token_ids)),
                    )
        finally:
            if engine.has_unfinished_requests():  # an interrupted run leaves no request behind
                engine.abort_request([key for key, _ in requests])


class HFBackend:
    """A local HF checkpoint generated by transformers (small models; CPU or one GPU)."""

    def __init__(self, model_path: str, sampling: Sampling, *, batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_path = model_path
        self.sampling = sampling
        self.batch_size = batch_size
        self.requests = 0
        self.completion_tokens = 0
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype="auto").to(device).eval()

    def describe(self) -> dict[str, Any]:
        return {"backend": "hf", "model": self.model_path}

    def stats(self) -> dict[str, int]:
        return {"requests": self.requests, "completion_tokens": self.completion_tokens}

    def _batch(self, conversations: list[Messages]) -> list[Generation]:
        import torch

        tok, sampling = self.tokenizer, self.sampling
        prompts = [
            tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in conversations
        ]
        inputs = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.model.device
        )
        torch.manual_seed(sampling.seed)
        with torch.no_grad():
            output = self.model.generate(
                **inputs, **hf_generate_kwargs(sampling), pad_token_id=tok.pad_token_id
            )
        eos = set(
            filter(lambda t: t is not None, [tok.eos_token_id, self.model.generation_config.eos_token_id])
        )
        eos = {t for e in eos for t in (e if isinstance(e, list) else [e])}
        generations = []
        for row in output[:, inputs["input_ids"].shape[1] :].tolist():
            stop = next((i for i, t in enumerate(row) if t in eos), None)
            tokens = row if stop is None else row[:stop]
            generations.append(
                Generation(
                    tok.decode(tokens, skip_special_tokens=True),
                    "length" if stop is None else "stop",
                    len(tokens) + (stop is not None),
                )
            )
        return generations

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[str, Generation]]:
        """Batches of ``batch_size`` prompts, each batch yielded (and saved) before the next."""
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            generations = await asyncio.to_thread(self._batch, [messages for _, messages in chunk])
            for (key, _), generation in zip(chunk, generations, strict=True):
                self.requests += 1
                self.completion_tokens += generation.completion_tokens
                yield key, generation
