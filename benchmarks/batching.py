"""Batching on a real model (issue 19, section 1): `--embed-clients` (32) clients, each embedding
one sentence per request with examples/text-embed (all-MiniLM-L6-v2 on the CPU), back to back.

Each client is a thread with its own keep-alive connection (`load.Client`), so a client waits for
its answer before it sends again (a closed loop): the rate is what the server sustains with that
many requests always waiting. Every sentence is different (the client's number and its request's
are in it): `predict_batch()` embeds each distinct text of a batch once, and identical sentences
would let a batch do less work than the requests asked for.

A 409 (coglet answers one when a client sends again the moment it has its answer: its slot is
freed just after) is retried after `_RETRY_AFTER`, as a client would, and counted; the request's
latency runs from its first attempt to its answer. Retried at once, the 409s would have the
client spinning on a core the server needs.

The first `WARMUP` seconds are not counted (torch's first forward passes are slow). Then, over
`--embed-seconds`: successful predictions/s (2xx answers completed in the window) and the latency
p50/p99 of the requests sent in it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from benchmarks.load import Client
from benchmarks.measure import Measured, Peers, Settings, ms
from benchmarks.servers import RunningServer
from benchmarks.stats import percentile

WARMUP = 2.0
_TIMEOUT = 60.0
_DIMENSIONS = 384  # all-MiniLM-L6-v2's
_RETRY_AFTER = 0.005


@dataclass(frozen=True)
class _Answer:
    sent: float  # perf_counter, of the first attempt
    seconds: float  # from the first attempt to the answer
    status: int
    retries: int  # 409s answered before it


SENTENCE = "Request {request} of client {client}: a short sentence to embed, about the weather by the river."


def _client(server: RunningServer, number: int, stop_at: float, answers: list[_Answer], problems: list[str]) -> None:
    client = Client(server.host, server.port, timeout=_TIMEOUT)
    request = 0
    try:
        while time.perf_counter() < stop_at:
            body = {"input": {"texts": [SENTENCE.format(client=number, request=request)]}}
            sent = time.perf_counter()
            reply = client.post_json("/predictions", body)
            retries = 0
            while reply.status == 409 and time.perf_counter() < stop_at:
                retries += 1
                time.sleep(_RETRY_AFTER)
                reply = client.post_json("/predictions", body)
            answers.append(_Answer(sent, time.perf_counter() - sent, reply.status, retries))
            if reply.status == 200 and request == 0:
                embeddings = (reply.json().get("output") or {}).get("embeddings") or [[]]
                if len(embeddings[0]) != _DIMENSIONS:
                    problems.append(f"an answer's embedding has {len(embeddings[0])} numbers, not {_DIMENSIONS}")
            elif reply.status != 200:
                problems.append(f"HTTP {reply.status}: {reply.body[:120]!r}")
            request += 1
    except OSError as error:
        problems.append(f"{type(error).__name__}: {error}")
    finally:
        client.close()


def _closed_loop(server: RunningServer, settings: Settings, prefix: str) -> Measured:
    out = Measured()
    start = time.perf_counter()
    window_from = start + WARMUP
    stop_at = window_from + settings.embed_seconds
    answers: list[_Answer] = []  # list.append is atomic: the threads share it
    problems: list[str] = []
    threads = [
        threading.Thread(target=_client, args=(server, i, stop_at, answers, problems), name=f"embed-client-{i}")
        for i in range(settings.embed_clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(settings.embed_seconds + WARMUP + _TIMEOUT * 2)
    in_window = [a for a in answers if window_from <= a.sent + a.seconds <= stop_at]
    ok = [a for a in in_window if 200 <= a.status < 300]
    sent_in_window = [a.seconds for a in answers if a.sent >= window_from and 200 <= a.status < 300]
    out.metrics.update(
        {
            f"{prefix}_rps": len(ok) / settings.embed_seconds,
            f"{prefix}_p50_ms": ms(percentile(sent_in_window, 50)),
            f"{prefix}_p99_ms": ms(percentile(sent_in_window, 99)),
            f"{prefix}_failed": float(sum(1 for a in answers if not 200 <= a.status < 300)),
            f"{prefix}_retried_409": float(sum(a.retries for a in answers)),
        }
    )
    out.samples[prefix] = [s * 1000.0 for s in sent_in_window]
    if problems:
        counts: dict[str, int] = {}
        for problem in problems:
            counts[problem] = counts.get(problem, 0) + 1
        out.notes.append(f"{prefix}: " + "; ".join(f"{p} (×{n})" for p, n in counts.items()))
    server.check_alive()
    return out


def embed(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Sprocket with predict_batch(); Cog 0.9.8 and coglet as each best runs the model."""
    return _closed_loop(server, settings, "embed")


def embed_unbatched(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """Sprocket on the same model without predict_batch(): one forward pass per request."""
    return _closed_loop(server, settings, "embed_unbatched")
