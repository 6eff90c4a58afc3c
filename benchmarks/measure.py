"""What every scenario gets and gives back: the run's sizes (`Settings`), the peers on loopback
(`Peers`), and the numbers it measured (`Measured`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.transfers import TransferPeer
    from benchmarks.webhooks import Receiver

MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    repeats: int = 5
    noop_requests: int = 2000
    wrk_seconds: float = 4.0
    wrk_connections: tuple[int, ...] = (1, 8, 64)
    gil_seconds: float = 5.0
    big_output_requests: int = 20
    file_input_requests: int = 5
    file_input_mib: int = 10
    token_count: int = 1000
    token_runs: int = 10
    # Issue 19: goodput under overload, big files, streams at scale, replicas.
    overload_seconds: float = 10.0
    overload_connections: int = 64
    queue_size: int = 64
    big_file_mib: int = 1024
    stream_counts: tuple[int, ...] = (64, 256)
    stream_tokens: int = 100
    stream_pace_ms: float = 10.0
    replicas: int = 3
    replica_seconds: float = 15.0
    # Issue 19, section 1: batching on examples/text-embed.
    embed_clients: int = 32
    embed_seconds: float = 10.0


QUICK = Settings(
    repeats=1,
    noop_requests=300,
    wrk_seconds=2.0,
    big_output_requests=5,
    file_input_requests=2,
    token_runs=3,
    overload_seconds=3.0,
    big_file_mib=256,
    stream_tokens=50,
    replica_seconds=6.0,
    embed_seconds=4.0,
)


@dataclass(frozen=True)
class Peers:
    """The harness's servers on 127.0.0.1, up for the whole run."""

    webhooks: Receiver
    transfers: TransferPeer


@dataclass
class Measured:
    metrics: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None or math.isnan(seconds) else seconds * 1000.0
