"""What is measured on each running server: figures 1 to 7 here, issue 19's scenarios in their
own modules, and the table of every scenario (`SCENARIOS`): which predictor it runs, with which
settings and flags, and which servers cannot run it and why.

Each scenario gets a server that has just become READY and returns plain numbers (`metrics`,
milliseconds unless the name says otherwise) plus the raw samples the chart draws.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks import batching, floors, overload, streams, transfers
from benchmarks.load import Client, StreamTiming, health_during_predict, sequential, sse_prediction
from benchmarks.measure import Measured, MiB, Peers, Settings, ms
from benchmarks.servers import RunningServer
from benchmarks.stats import summary

_IDLE_SETTLE = 1.0


def idle_memory(server: RunningServer) -> dict[str, float | None]:
    """RSS and PSS summed over the server's process tree (MiB)."""
    rss = pss = 0
    processes = 0
    for process in server.tree():
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", 0)
        processes += 1
    return {"idle_rss_mib": rss / MiB, "idle_pss_mib": pss / MiB, "idle_processes": float(processes)}


def noop(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Figures 1, 2, 3 and 7: cold start, idle memory, sequential latency, throughput."""
    out = Measured()
    out.metrics["cold_start_ms"] = server.cold_start * 1000.0
    out.samples["cold_start"] = [server.cold_start * 1000.0]
    time.sleep(_IDLE_SETTLE)
    out.metrics.update(idle_memory(server))

    client = Client(server.host, server.port)
    try:
        seq = sequential(client, "POST", "/predictions", {"input": {"text": "hi"}}, settings.noop_requests)
    finally:
        client.close()
    stats = summary(seq.latencies)
    out.metrics.update(
        {
            "noop_p50_ms": ms(stats["p50"]),
            "noop_p90_ms": ms(stats["p90"]),
            "noop_p99_ms": ms(stats["p99"]),
            "noop_seq_409": float(seq.statuses.get("409", 0)),
            "noop_seq_non200": float(sum(v for k, v in seq.statuses.items() if k != "200")),
        }
    )
    out.samples["noop"] = [s * 1000.0 for s in seq.latencies]
    if seq.predict_times:
        out.metrics["noop_predict_time_p50_ms"] = ms(summary(seq.predict_times)["p50"])

    for connections in settings.wrk_connections:
        result = overload.wrk_run(server, connections, settings.wrk_seconds, out)
        out.metrics[f"rps_c{connections}"] = result["rate"]
        out.metrics[f"ok_rps_c{connections}"] = result["ok_rate"]
        out.metrics[f"share409_c{connections}"] = result["share_409"]
    return out


def gil_bound(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Figure 4: /health-check latency while predict() holds the GIL for 5 s."""
    out = Measured()
    result = health_during_predict(
        server.host, server.port, {"input": {"seconds": settings.gil_seconds}}, timeout=settings.gil_seconds * 4
    )
    stats = summary(result.latencies)
    out.metrics.update(
        {
            "health_p50_ms": ms(stats["p50"]),
            "health_p99_ms": ms(stats["p99"]),
            "health_max_ms": ms(stats["max"]),
            "health_answers": float(stats["n"]),
        }
    )
    out.samples["health"] = [s * 1000.0 for s in result.latencies]
    out.notes.append(
        f"health states seen {result.statuses}; predict HTTP {result.predict_status} "
        f"in {result.predict_seconds:.2f} s; {result.timeouts} probe timeouts"
    )
    return out


def big_output(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Figure 5a: a prediction returning a 1 MiB string."""
    out = Measured()
    client = Client(server.host, server.port)
    try:
        seq = sequential(
            client, "POST", "/predictions", {"input": {"size": MiB}}, settings.big_output_requests, warmup=2
        )
    finally:
        client.close()
    out.metrics["out_1mib_p50_ms"] = ms(summary(seq.latencies)["p50"])
    out.samples["out_1mib"] = [s * 1000.0 for s in seq.latencies]
    if seq.statuses.get("200", 0) != settings.big_output_requests:
        out.notes.append(f"1 MiB output statuses {seq.statuses}")
    return out


def _data_uri(mib: int) -> str:
    payload = os.urandom(mib * MiB)
    return "data:application/octet-stream;base64," + base64.b64encode(payload).decode("ascii")


def file_input(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Figure 5b: a 10 MiB file sent as a data: URI to a `Path` input; the predictor returns its size."""
    out = Measured()
    uri = _data_uri(settings.file_input_mib)
    client = Client(server.host, server.port, timeout=120.0)
    latencies: list[float] = []
    try:
        for i in range(settings.file_input_requests + 1):
            reply = client.post_json("/predictions", {"input": {"file": uri}})
            body = reply.json() if reply.status == 200 else {}
            if reply.status != 200 or body.get("output") != settings.file_input_mib * MiB:
                out.notes.append(f"file input: HTTP {reply.status}, output {str(body.get('output'))[:80]}")
            if i > 0:  # the first one warms caches and imports
                latencies.append(reply.seconds)
    finally:
        client.close()
    out.metrics["in_10mib_p50_ms"] = ms(summary(latencies)["p50"])
    out.samples["in_10mib"] = [s * 1000.0 for s in latencies]
    return out


def tokens(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Figure 6: 1000 tokens from an iterator, over SSE and over webhooks."""
    out = Measured()
    payload = {"input": {"count": settings.token_count}}
    sse_first: list[float] = []
    sse_done: list[float] = []
    idle = Client(server.host, server.port)
    try:
        # One unrecorded run first, as the noop figures have their warm-up: a server's first
        # stream pays one-off costs (lazy imports, first allocations) that say little about
        # the next thousand.
        for run in range(settings.token_runs + 1):
            timing = sse_prediction(server.host, server.port, payload)
            _wait_idle(server, idle)
            if not timing.supported:
                out.notes.append(f"SSE n/a: {timing.note}")
                break
            if run > 0:
                _record_stream(timing, sse_first, sse_done, settings, out)
    finally:
        idle.close()
    out.metrics["sse_first_ms"] = ms(summary(sse_first)["p50"]) if sse_first else None
    out.metrics["sse_done_ms"] = ms(summary(sse_done)["p50"]) if sse_done else None
    out.samples["sse_first"] = [s * 1000.0 for s in sse_first]

    hook_first: list[float] = []
    hook_done: list[float] = []
    client = Client(server.host, server.port)
    try:
        for _ in range(settings.token_runs):
            timing = peers.webhooks.prediction(client, payload)
            if not timing.supported:
                out.notes.append(f"webhooks n/a: {timing.note}")
                break
            if not hook_done:
                out.notes.append(f"webhooks for one prediction: {timing.note}")
            if timing.completed is not None:
                hook_done.append(timing.completed)
                if timing.first_token is not None:
                    hook_first.append(timing.first_token)
                if timing.tokens != settings.token_count:
                    out.notes.append(f"webhook final output had {timing.tokens} tokens")
            else:
                out.notes.append(f"webhooks incomplete: {timing.note}")
            _wait_idle(server, client)
    finally:
        client.close()
    out.metrics["hook_first_ms"] = ms(summary(hook_first)["p50"]) if hook_first else None
    out.metrics["hook_done_ms"] = ms(summary(hook_done)["p50"]) if hook_done else None
    return out


def _record_stream(
    timing: StreamTiming, first: list[float], done: list[float], settings: Settings, out: Measured
) -> None:
    if timing.first_token is not None and timing.completed is not None:
        first.append(timing.first_token)
        done.append(timing.completed)
        if timing.tokens != settings.token_count:
            out.notes.append(f"SSE delivered {timing.tokens} output events of {settings.token_count}")
    else:
        out.notes.append(f"SSE incomplete: {timing.note}")


def _wait_idle(server: RunningServer, client: Client, deadline: float = 10.0) -> None:
    """After an async prediction, wait for READY so the next one is not refused with 409."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        reply = client.request("GET", "/health-check")
        if reply.status == 200 and reply.json().get("status") == "READY":
            return
        time.sleep(0.01)


Measure = Callable[[RunningServer, Settings, Peers], Measured]
# The floor of a scenario (benchmarks/floors.py), given the Python of Sprocket's environment.
MeasureFloor = Callable[[Path, Settings, Peers], Measured]

COG_098 = "cog-0.9.8"
COGLET = "coglet"


@dataclass(frozen=True)
class Scenario:
    """One measurement: the predictor (a directory under benchmarks/predictors), what is measured
    on it, the extra environment and flags every server gets, and the servers that cannot run it
    (by name prefix) with the reason, reported instead of a number."""

    predictor: str
    measure: Measure
    env: Callable[[Settings], dict[str, str]] = lambda settings: {}
    args: Callable[[Peers], list[str]] = lambda peers: []
    cannot: dict[str, str] = field(default_factory=dict)
    # Servers (by name prefix) that run another predictor for the same work, and the extra
    # environment only they get.
    instead: dict[str, str] = field(default_factory=dict)
    env_for: dict[str, Callable[[Settings], dict[str, str]]] = field(default_factory=dict)
    floor: MeasureFloor | None = None

    def reason_against(self, server: str) -> str | None:
        return next((why for prefix, why in self.cannot.items() if server.startswith(prefix)), None)

    def predictor_for(self, server: str) -> str:
        return next((p for prefix, p in self.instead.items() if server.startswith(prefix)), self.predictor)

    def env_of(self, server: str, settings: Settings) -> dict[str, str]:
        extra = next((env for prefix, env in self.env_for.items() if server.startswith(prefix)), None)
        return {**self.env(settings), **(extra(settings) if extra else {})}


_NO_ASYNC_ITERATOR = (
    "Cog 0.9.8 cannot load an async iterator predictor: setup fails with "
    "'Fields of type AsyncIterator are not supported'"
)

# Scenario name -> what runs, in the order they run within a repeat. `replicas` (Docker, Sprocket
# only) is not here: it runs once after the interleaved plan (benchmarks/replicas.py).
SCENARIOS: dict[str, Scenario] = {
    "noop": Scenario("noop", noop),
    "gil_bound": Scenario("gil_bound", gil_bound),
    "big_output": Scenario("big_output", big_output),
    "file_input": Scenario("file_input", file_input),
    "tokens": Scenario("tokens", tokens),
    "goodput": Scenario("noop", overload.goodput),
    "queued": Scenario(
        "noop",
        overload.queued,
        env=lambda settings: {"SPROCKET_QUEUE_SIZE": str(settings.queue_size)},
        cannot={COGLET: "coglet has no queue: past its slots it answers 409"},
    ),
    "file_output": Scenario(
        "file_output", transfers.file_output, env=transfers.file_size_env, args=transfers.upload_url
    ),
    "file_url_input": Scenario("file_input", transfers.file_url_input),
    "oversize_body": Scenario("file_input", transfers.oversize_data_url),
    # cog.yaml says `concurrency: max: 256`; coglet takes it only from the environment (`cog build`
    # puts it there), so every server gets it that way.
    "streams": Scenario(
        "paced_tokens",
        streams.paced_streams,
        env=lambda settings: {"COG_MAX_CONCURRENCY": str(max(settings.stream_counts))},
        cannot={COG_098: _NO_ASYNC_ITERATOR},
        floor=floors.stream,
    ),
    # examples/text-embed: Sprocket gathers concurrent predictions into predict_batch(); Cog 0.9.8
    # runs the model one request at a time (it queues the rest); coglet runs an async copy with
    # `concurrency: max: 32`, each request's forward pass in a thread (benchmarks/predictors/).
    "embed": Scenario(
        "text_embed",
        batching.embed,
        instead={COG_098: "embed_unbatched", COGLET: "embed_async"},
        env_for={COGLET: lambda settings: {"COG_MAX_CONCURRENCY": str(settings.embed_clients)}},
        floor=floors.embed,
    ),
    # Sprocket on the same model without predict_batch(), the requests waiting in its queue.
    "embed_unbatched": Scenario(
        "embed_unbatched",
        batching.embed_unbatched,
        env=lambda settings: {"SPROCKET_QUEUE_SIZE": str(settings.embed_clients)},
        cannot={
            COG_098: "no batching to turn off: figure 13's embed row is this very predictor",
            COGLET: "no batching to turn off: figure 13's embed row is its best without it",
        },
        floor=floors.embed_unbatched,
    ),
}
