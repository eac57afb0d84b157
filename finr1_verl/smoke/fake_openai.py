"""A loopback OpenAI-compatible server whose replies, latency and faults are scripted per test.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 at a free port, on its
own thread and event loop, so sync tests, async tests and code under test running several event
loops all talk to it over real HTTP.  Every request body it receives is recorded.

Scripting: ``server.script(reply, ...)`` queues replies served in order (one per request); when the
queue is empty ``server.responder(body) -> Reply`` decides (default: content "ok").  A ``Reply`` is
either a normal completion or one of the faults below.

``FakeOpenAIServer(slots=N)`` answers at most N requests at a time, as a vLLM server with N sequence
slots does: further requests are received (and counted in ``in_flight``) but wait in a queue, and
a reply's ``delay`` starts once it holds a slot.  The default (None) answers every request at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAULTS = ("reset", "malformed_json", "empty_choices", "slow_body", "hang")


@dataclass
class Reply:
    """One scripted answer.

    content / reasoning_content: the assistant message (reasoning_content as vLLM's reasoning parser
    returns it).  status != 200 returns an OpenAI-style error body with ``headers`` (e.g. Retry-After).
    delay: seconds before answering.  fault: "reset" (connection aborted), "malformed_json",
    "empty_choices", "slow_body" (the body trickles out over ``delay`` seconds), "hang" (never answers
    within ``delay``; use a delay longer than the client's timeout).
    """

    content: str | None = "ok"
    reasoning_content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fault: str | None = None
    finish_reason: str = "stop"

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    completion_tokens = len((reply.content or "").split()) + len((reply.reasoning_content or "").split())
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {
            "prompt_tokens": max(1, prompt_chars // 4),
            "completion_tokens": completion_tokens,
            "total_tokens": max(1, prompt_chars // 4) + completion_tokens,
        },
    }


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:`` or ``start()``/``stop()``."""

    def __init__(
        self,
        model: str = "fake-model",
        responder: Callable[[dict], Reply] | None = None,
        *,
        slots: int | None = None,
    ):
        if slots is not None and slots < 1:
            raise ValueError("slots must be >= 1 (or None for no limit)")
        self.model = model
        self.slots = slots
        self._slot_semaphore: asyncio.Semaphore | None = None
        self.responder: Callable[[dict], Reply] = responder or (lambda body: Reply())
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0

    # --- scripting -------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.headers.clear()
            self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def address(self) -> str:
        """``ip:port``, the form verl passes as ``reward_router_address``."""
        return f"127.0.0.1:{self.port}"

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.responder(body)

    # --- HTTP handlers ---------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "invalid JSON body"}}, status=400)
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._slot_semaphore is None:
                return await self._answer(request, body, self._next_reply(body))
            async with self._slot_semaphore:
                return await self._answer(request, body, self._next_reply(body))
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: web.Request, body: dict, reply: Reply) -> web.StreamResponse:
        if reply.fault == "hang":
            await asyncio.sleep(reply.delay or 3600)
        elif reply.fault != "slow_body" and reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.fault == "reset":
            request.transport.abort()
            raise asyncio.CancelledError  # the connection is gone; nothing more to send
        if reply.status != 200:
            err = {"error": {"message": f"scripted HTTP {reply.status}", "type": "server_error"}}
            return web.json_response(err, status=reply.status, headers=reply.headers)
        if reply.fault == "malformed_json":
            return web.Response(
                text='{"choices": [{"message": {"content": "tru', content_type="application/json"
            )
        payload = _completion(body, reply)
        if reply.fault == "empty_choices":
            payload["choices"] = []
        data = json.dumps(payload).encode()
        if reply.fault != "slow_body":
            return web.Response(body=data, content_type="application/json", headers=reply.headers)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(data)
        await resp.prepare(request)
        chunks = [data[i : i + 16] for i in range(0, len(data), 16)]
        for chunk in chunks:
            await resp.write(chunk)
            await asyncio.sleep((reply.delay or 1.0) / len(chunks))
        await resp.write_eof()
        return resp

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            if self.slots is not None:
                self._slot_semaphore = asyncio.Semaphore(self.slots)
            app = web.Application(client_max_size=64 * 1024**2)
            app.router.add_get("/v1/models", self._models)
            app.router.add_post("/v1/chat/completions", self._chat)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
