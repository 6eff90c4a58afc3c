"""Closed-loop load through a gateway, recording every request's fate: `connections` aiohttp
clients post predictions back to back until stopped (or a deadline), in a thread with its own
event loop, so the caller can kill a replica mid-run and read the outcomes afterwards."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

_REQUEST_DEADLINE = 60.0


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the request left
    seconds: float
    http_status: int | None  # None: no HTTP answer (see error)
    prediction_status: str | None = None
    detail: Any = None  # the output when it succeeded, else the body (or its start)
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.http_status == 200 and self.prediction_status == "succeeded"

    def why(self) -> str:
        """One line saying how this request ended, for reports and assertion messages."""
        if self.error is not None:
            return f"no answer: {self.error}"
        return f"HTTP {self.http_status} status={self.prediction_status} {str(self.detail)[:160]}"


def _outcome(started: float, status: int, text: str) -> Outcome:
    seconds = time.monotonic() - started
    try:
        body = json.loads(text)
    except ValueError:  # HAProxy's own error pages are HTML
        return Outcome(started, seconds, status, detail=text[:300])
    state = body.get("status") if isinstance(body, dict) else None
    detail = body.get("output") if state == "succeeded" else body
    return Outcome(started, seconds, status, state if isinstance(state, str) else None, detail)


class GatewayLoad:
    """`with GatewayLoad(url, connections, payload, deadline) as load:` ... `load.outcomes`."""

    def __init__(self, url: str, connections: int, payload: dict[str, Any], deadline: float) -> None:
        self.url, self.connections, self.payload, self.deadline = url, connections, payload, deadline
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="gateway-load", daemon=True)

    async def _client(self, session: aiohttp.ClientSession, give_up: float) -> None:
        while not self._stop.is_set() and time.monotonic() < give_up:
            started = time.monotonic()
            try:
                async with session.post(f"{self.url}/predictions", json=self.payload) as response:
                    text = await response.text()
                self.outcomes.append(_outcome(started, response.status, text))
            except (TimeoutError, aiohttp.ClientError) as error:
                self.outcomes.append(
                    Outcome(started, time.monotonic() - started, None, error=f"{type(error).__name__}: {error}")
                )

    async def _run(self) -> None:
        give_up = time.monotonic() + self.deadline
        timeout = aiohttp.ClientTimeout(total=_REQUEST_DEADLINE)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
            await asyncio.gather(*(self._client(session, give_up) for _ in range(self.connections)))

    def completed_since(self, since: float) -> int:
        return sum(1 for o in list(self.outcomes) if o.started >= since and o.succeeded)

    def __enter__(self) -> GatewayLoad:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=_REQUEST_DEADLINE + 10)
        if self._thread.is_alive():
            raise RuntimeError(f"gateway load still running {_REQUEST_DEADLINE + 10:.0f} s after it was stopped")
