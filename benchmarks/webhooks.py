"""A webhook receiver on 127.0.0.1 (aiohttp, in its own thread) and the timing of one prediction.

Time to first token is when the first webhook whose `output` holds at least one item arrives;
completion is when a webhook with a terminal status arrives. Both count from just before the
POST left the client, on the same clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from benchmarks.load import Client, StreamTiming
from benchmarks.loopback import LoopbackApp

_TERMINAL = {"succeeded", "failed", "canceled"}


@dataclass
class _Hook:
    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    first_token: float | None = None
    completed: float | None = None
    final: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    any: threading.Event = field(default_factory=threading.Event)


class Receiver(LoopbackApp):
    name = "webhook-receiver"

    def __init__(self) -> None:
        super().__init__()
        self._hooks: dict[str, _Hook] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook/{key}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        hook = self._hooks.get(request.match_info["key"])
        body = await request.json()
        if hook is not None and isinstance(body, dict):
            hook.arrivals.append((now, body))
            hook.any.set()
            output = body.get("output")
            if hook.first_token is None and isinstance(output, list) and output:
                hook.first_token = now
            if body.get("status") in _TERMINAL:
                hook.completed = now
                hook.final = body
                hook.done.set()
        return web.json_response({})

    def prediction(
        self, client: Client, payload: dict[str, Any], first_wait: float = 5.0, timeout: float = 30.0
    ) -> StreamTiming:
        """POST `payload` with `Prefer: respond-async` and a webhook; time what arrives."""
        key = uuid.uuid4().hex
        hook = _Hook()
        self._hooks[key] = hook
        body = {**payload, "webhook": f"{self.url}/hook/{key}"}
        try:
            start = time.perf_counter()
            reply = client.post_json("/predictions", body, {"Prefer": "respond-async"})
            if reply.status not in (200, 201, 202):
                return StreamTiming(False, note=f"HTTP {reply.status} to a webhook prediction")
            if not hook.any.wait(first_wait):
                return StreamTiming(False, note=f"no webhook arrived within {first_wait:.0f} s")
            if not hook.done.wait(timeout):
                return StreamTiming(True, note=f"no terminal webhook within {timeout:.0f} s")
            final_output = hook.final.get("output")
            return StreamTiming(
                True,
                first_token=None if hook.first_token is None else hook.first_token - start,
                completed=None if hook.completed is None else hook.completed - start,
                tokens=len(final_output) if isinstance(final_output, list) else 0,
                final=hook.final,
                note=f"{len(hook.arrivals)} webhooks",
            )
        finally:
            self._hooks.pop(key, None)
