"""Streams at scale (issue 19, section 4): 64 and 256 concurrent SSE streams from a predictor that
yields a token every 10 ms.

One asyncio client holds every stream, each on its own connection driven by an
`asyncio.Protocol`: the request is prebuilt bytes written when the connection is made, and each
read counts `event: output` lines with one regular expression, stamping the read's tokens with
its arrival. No HTTP client library sits in between: aiohttp's client cost about twice the CPU
per token (a task switch and a stream reader per read), and on 2 shared cores the measuring
client's own delays land in the gaps it reports. Whether it kept up is measured, not assumed: the
client's own CPU share over the run, and how late its event loop woke a 1 ms ticker (p99). A
client that kept up has a loop lag well below the gaps it reports.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import cast

import psutil

from benchmarks.measure import Measured, Peers, Settings, ms
from benchmarks.servers import RunningServer, health_status
from benchmarks.stats import percentile

_OUTPUT = re.compile(rb"^event: ?output\r?$", re.M)
# The chunk of an output event, as Sprocket and coglet write it: `paced_tokens` yields its clock.
_YIELDED = re.compile(rb'"chunk": ?"([0-9]+\.[0-9]+) "')
_COMPLETED = re.compile(rb"^event: ?completed\r?$", re.M)
_TICK = 0.001
_WARMUP_INPUT: dict[str, object] = {"input": {"count": 2, "pace_ms": 10.0}}


@dataclass
class Stream:
    sent: float | None = None  # perf_counter when the request was written to the socket
    arrivals: list[float] = field(default_factory=list)  # seconds since then, per token
    yielded: list[float] = field(default_factory=list)  # when the predictor yielded each, the same way
    completed: bool = False
    error: str | None = None


class _StreamReader(asyncio.Protocol):
    """One SSE prediction on one connection. Times count from the request's write, not from the
    call: one client opening hundreds of connections at once does so one after another, and
    that wait is the client's. The response's chunked framing is not decoded: the server writes
    whole events per chunk, so the size lines never split an `event:` line."""

    def __init__(self, request: bytes, stream: Stream, done: asyncio.Future[None]) -> None:
        self._request = request
        self._stream = stream
        self._done = done
        self._head: bytes | None = b""  # None once the response head was read
        self._tail = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(self._request)
        self._stream.sent = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self._head is not None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data, self._head = self._head[:end], self._head[end + 4 :], None
            status_line, _, headers = head.partition(b"\r\n")
            kind = next((line for line in headers.lower().split(b"\r\n") if line.startswith(b"content-type:")), b"")
            if b" 200 " not in status_line + b" " or b"text/event-stream" not in kind:
                self._end(f"{status_line.decode(errors='replace')} {kind.decode(errors='replace')}")
                return
        buffer = self._tail + data
        cut = buffer.rfind(b"\n") + 1
        lines, self._tail = buffer[:cut], buffer[cut:]
        assert self._stream.sent is not None
        sent = self._stream.sent
        self._stream.arrivals.extend([now - sent] * len(_OUTPUT.findall(lines)))
        self._stream.yielded.extend(float(stamp) - sent for stamp in _YIELDED.findall(lines))
        if _COMPLETED.search(lines):
            self._stream.completed = True
            self._end(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(f"connection lost: {exc}" if exc else "connection closed")

    def _end(self, error: str | None) -> None:
        if self._done.done():
            return
        if error is not None and not self._stream.completed:
            self._stream.error = error
        self._done.set_result(None)
        if self._transport is not None:
            self._transport.close()


async def _one_stream(host: str, port: int, request: bytes, timeout: float) -> Stream:
    stream = Stream()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    transport: asyncio.BaseTransport | None = None
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(lambda: _StreamReader(request, stream, done), host, port)
            await done
    except (TimeoutError, OSError) as error:
        stream.error = f"{type(error).__name__}: {error}"
    finally:
        if transport is not None:
            transport.close()
    if stream.error is None and not stream.completed:
        stream.error = "stream ended without a completed event"
    return stream


def _request(host: str, port: int, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST /predictions HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(_TICK)
        lags.append(time.perf_counter() - before - _TICK)


async def _all_streams(
    host: str, port: int, count: int, payload: dict[str, object], timeout: float
) -> tuple[list[Stream], list[float]]:
    lags: list[float] = []
    stop = asyncio.Event()
    request = _request(host, port, payload)
    ticker = asyncio.create_task(_ticker(lags, stop))
    streams = await asyncio.gather(*(_one_stream(host, port, request, timeout) for _ in range(count)))
    stop.set()
    await ticker
    return list(streams), lags


def _wait_ready(server: RunningServer, deadline: float = 10.0) -> None:
    """Until the server says READY again (every slot free), so the measured burst is not refused."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up and health_status(server.host, server.port) != "READY":
        time.sleep(0.01)


def paced_streams(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """For each stream count: first token p50/p99, added gap p99, failures, server CPU per 1000 tokens."""
    out = Measured()
    pace = settings.stream_pace_ms / 1000.0
    payload: dict[str, object] = {"input": {"count": settings.stream_tokens, "pace_ms": settings.stream_pace_ms}}
    timeout = 60.0 + settings.stream_tokens * pace * 4
    me = psutil.Process()
    for count in settings.stream_counts:
        # One burst of as many streams first, unrecorded but for its first-token p99, as figure 6
        # has its unrecorded run: a server's first burst after READY pays one-off costs (first
        # allocations, lazy imports, its pools filling) that say little about the next one.
        warmup, _ = asyncio.run(_all_streams(server.host, server.port, count, _WARMUP_INPUT, timeout))
        firsts = [s.arrivals[0] for s in warmup if s.arrivals]
        out.metrics[f"stream{count}_warmup_first_p99_ms"] = ms(percentile(firsts, 99))
        _wait_ready(server)
        cpu_before, mine_before, wall_before = server.cpu_seconds(), me.cpu_times(), time.perf_counter()
        streams, lags = asyncio.run(_all_streams(server.host, server.port, count, payload, timeout))
        wall = time.perf_counter() - wall_before
        cpu = server.cpu_seconds() - cpu_before
        mine = me.cpu_times()
        client_cpu = (mine.user - mine_before.user) + (mine.system - mine_before.system)
        failed = [s for s in streams if s.error is not None or len(s.arrivals) != settings.stream_tokens]
        tokens = sum(len(s.arrivals) for s in streams)
        firsts = [s.arrivals[0] for s in streams if s.arrivals]
        gaps = [later - earlier - pace for s in streams for earlier, later in itertools.pairwise(s.arrivals)]
        # Each gap again, less the one the predictor made (asyncio's sleep overshoots: its epoll
        # waits whole milliseconds): how much later a token took from its yield to the client
        # than the token before it.
        stamped = [s for s in streams if len(s.yielded) == len(s.arrivals)]
        made = [later - earlier - pace for s in stamped for earlier, later in itertools.pairwise(s.yielded)]
        delays = [[arrived - yielded for arrived, yielded in zip(s.arrivals, s.yielded, strict=True)] for s in stamped]
        added = [later - earlier for each in delays for earlier, later in itertools.pairwise(each)]
        out.metrics.update(
            {
                f"stream{count}_first_p50_ms": ms(percentile(firsts, 50)),
                f"stream{count}_first_p99_ms": ms(percentile(firsts, 99)),
                f"stream{count}_gap_p99_ms": ms(percentile(gaps, 99)),
                f"stream{count}_predictor_gap_p99_ms": ms(percentile(made, 99)) if made else None,
                f"stream{count}_server_gap_p99_ms": ms(percentile(added, 99)) if added else None,
                f"stream{count}_failed": float(len(failed)),
                f"stream{count}_cpu_per_1k_ms": cpu / tokens * 1000 * 1000 if tokens else None,
                f"stream{count}_client_cpu_share": client_cpu / wall,
                f"stream{count}_client_lag_p99_ms": ms(percentile(lags, 99)),
            }
        )
        out.samples[f"stream{count}_first"] = [f * 1000 for f in firsts]
        if failed:
            reasons: dict[str, int] = {}
            for stream in failed:
                reason = stream.error or f"{len(stream.arrivals)} of {settings.stream_tokens} tokens"
                reasons[reason] = reasons.get(reason, 0) + 1
            out.notes.append(f"{count} streams: {len(failed)} failed: {reasons}")
        server.check_alive()
    return out
