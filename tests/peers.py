"""Real HTTP peers for the server under test: a webhook/upload receiver and a file server, each an
aiohttp app on 127.0.0.1 running in a thread of the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from tests.support import wait_until

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    json: Any = None


@dataclass
class Peer:
    """An aiohttp server in a background thread. `routes` maps (method, path) to handlers;
    every request is recorded in `received` before its handler runs."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("test peer did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = Received(request.method, request.path, dict(request.headers), body, time.monotonic())
        if request.content_type == "application/json" and body:
            record.json = await request.json()
        self.received.append(record)
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return web.Response(status=404)
        return await handler(request)

    def on(self, method: str, path: str, handler: Handler) -> str:
        self.routes[(method, path)] = handler
        return self.url + path

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in list(self.received) if r.path == path]

    def wait_for(
        self, path: str, predicate: Callable[[list[Received]], bool], what: str, timeout: float = 15
    ) -> list[Received]:
        def matched() -> list[Received] | None:
            requests = self.requests_to(path)
            return requests if predicate(requests) else None

        return wait_until(matched, timeout, what)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


def respond(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    return handler


def respond_in_turn(*statuses: int) -> Handler:
    """Answer each request with the next status; the last one repeats."""
    remaining = list(statuses)

    async def handler(request: web.Request) -> web.Response:
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return web.Response(status=status)

    return handler


def hang(release: threading.Event, seconds: float = 60) -> Handler:
    """Hold the request open until `release` is set (or `seconds` pass), then answer 200."""

    async def handler(request: web.Request) -> web.Response:
        deadline = time.monotonic() + seconds
        while not release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return web.Response(status=200, body=b"late")

    return handler
