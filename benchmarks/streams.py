"""Streams at scale (issue 19, section 4): 64 and 256 concurrent SSE streams from a predictor that
yields a token every 10 ms.

One asyncio client (aiohttp) holds every stream. It reads each response in chunks and counts
`event: output` lines with one regular expression per chunk, stamping every token in a chunk with
the chunk's arrival: cheap enough per token that the client keeps up with 256 streams. Whether it
did is measured, not assumed: the client's own CPU share over the run, and how late its event loop
woke a 1 ms ticker (p99). A client that kept up has a loop lag well below the gaps it reports.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
import psutil

from benchmarks.measure import Measured, Peers, Settings, ms
from benchmarks.servers import RunningServer
from benchmarks.stats import percentile

_OUTPUT = re.compile(rb"^event: ?output\r?$", re.M)
_COMPLETED = re.compile(rb"^event: ?completed\r?$", re.M)
_TICK = 0.001


@dataclass
class Stream:
    sent: float | None = None  # perf_counter when the request's body was written to the socket
    arrivals: list[float] = field(default_factory=list)  # seconds since then, per token
    completed: bool = False
    error: str | None = None


async def _request_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestChunkSentParams
) -> None:
    context.trace_request_ctx.sent = time.perf_counter()


async def _one_stream(session: aiohttp.ClientSession, url: str, payload: dict[str, object], timeout: float) -> Stream:
    """Times count from the request's last byte leaving, not from the call: one client opening
    hundreds of connections at once does so one after another, and that wait is the client's."""
    stream = Stream()
    try:
        async with session.post(
            url,
            json=payload,
            headers={"Accept": "text/event-stream"},
            timeout=aiohttp.ClientTimeout(total=timeout),
            trace_request_ctx=stream,
        ) as response:
            start = stream.sent if stream.sent is not None else time.perf_counter()
            kind = response.headers.get("Content-Type", "")
            if response.status != 200 or not kind.startswith("text/event-stream"):
                stream.error = f"HTTP {response.status} {kind}"
                await response.read()
                return stream
            tail = b""
            async for chunk in response.content.iter_any():
                now = time.perf_counter() - start
                buffer = tail + chunk
                cut = buffer.rfind(b"\n") + 1
                lines, tail = buffer[:cut], buffer[cut:]
                stream.arrivals.extend([now] * len(_OUTPUT.findall(lines)))
                if _COMPLETED.search(lines):
                    stream.completed = True
                    break
    except (TimeoutError, aiohttp.ClientError) as error:
        stream.error = f"{type(error).__name__}: {error}"
    if stream.error is None and not stream.completed:
        stream.error = "stream ended without a completed event"
    return stream


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(_TICK)
        lags.append(time.perf_counter() - before - _TICK)


async def _all_streams(
    url: str, count: int, payload: dict[str, object], timeout: float
) -> tuple[list[Stream], list[float]]:
    lags: list[float] = []
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    tracing = aiohttp.TraceConfig()
    tracing.on_request_chunk_sent.append(_request_sent)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[tracing]) as session:
        ticker = asyncio.create_task(_ticker(lags, stop))
        streams = await asyncio.gather(*(_one_stream(session, url, payload, timeout) for _ in range(count)))
        stop.set()
        await ticker
    return list(streams), lags


def paced_streams(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """For each stream count: first token p50/p99, added gap p99, failures, server CPU per 1000 tokens."""
    out = Measured()
    pace = settings.stream_pace_ms / 1000.0
    payload: dict[str, object] = {"input": {"count": settings.stream_tokens, "pace_ms": settings.stream_pace_ms}}
    timeout = 60.0 + settings.stream_tokens * pace * 4
    me = psutil.Process()
    for count in settings.stream_counts:
        cpu_before, mine_before, wall_before = server.cpu_seconds(), me.cpu_times(), time.perf_counter()
        streams, lags = asyncio.run(_all_streams(f"{server.base_url}/predictions", count, payload, timeout))
        wall = time.perf_counter() - wall_before
        cpu = server.cpu_seconds() - cpu_before
        mine = me.cpu_times()
        client_cpu = (mine.user - mine_before.user) + (mine.system - mine_before.system)
        failed = [s for s in streams if s.error is not None or len(s.arrivals) != settings.stream_tokens]
        tokens = sum(len(s.arrivals) for s in streams)
        firsts = [s.arrivals[0] for s in streams if s.arrivals]
        gaps = [later - earlier - pace for s in streams for earlier, later in itertools.pairwise(s.arrivals)]
        out.metrics.update(
            {
                f"stream{count}_first_p50_ms": ms(percentile(firsts, 50)),
                f"stream{count}_first_p99_ms": ms(percentile(firsts, 99)),
                f"stream{count}_gap_p99_ms": ms(percentile(gaps, 99)),
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
