"""Replicas behind a gateway (issue 19, section 5), Sprocket only: examples/deploy for real
(benchmarks/deploy.py) with the `sleeper` predictor (100 ms per prediction) built by
`sprocket build`.

Two figures, each from its own run of the stack:
- aggregate goodput (successful predictions/s through HAProxy) with 1 replica and with N, under
  the same closed-loop load per replica (as many clients as each replica's queue places, 4 in
  docker-compose.yml), counted over `replica_seconds` after a 1 s warm-up;
- N replicas, one container SIGKILLed a third of the way through, under a load the N - 1
  survivors can hold (4 clients per survivor): how many requests failed, and how each ended,
  next to what HAProxy logged (retries it hid from the client). With more clients than the
  survivors' places, the surplus is refused 409 by a full replica, which HAProxy does not retry
  (a 409 may answer a PUT of an id that exists): that measures lost capacity, not the kill.

Cog and coglet cannot take part: their images are made by `cog build`, a Go binary released on
GitHub (not on PyPI) that also pulls its base images from a registry; neither is reachable here.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.deploy import Stack, build_haproxy_image, build_replica_image, remove_image, summarize
from benchmarks.gateway_load import GatewayLoad, Outcome
from benchmarks.measure import Settings
from benchmarks.run import RunRecord
from benchmarks.servers import PREDICTORS

log = logging.getLogger("bench.replicas")

CANNOT = (
    "Cog's images cannot be built here: `cog build` is a Go binary from GitHub releases (not on PyPI) "
    "and pulls its base images from a registry"
)
PER_REPLICA_CLIENTS = 4  # SPROCKET_QUEUE_SIZE in examples/deploy/docker-compose.yml
_WARMUP = 1.0
_READY_DEADLINE = 120.0
_PAYLOAD = {"input": {"delay": 0.1}}


def _completed_in(outcomes: list[Outcome], start: float, end: float) -> int:
    return sum(1 for o in outcomes if o.succeeded and start <= o.started + o.seconds < end)


def _goodput(project: str, image: str, haproxy: str, replicas: int, seconds: float) -> float:
    with Stack(f"{project}-{replicas}", image, haproxy, replicas) as stack:
        stack.wait_up(_READY_DEADLINE)
        with GatewayLoad(stack.gateway_url, PER_REPLICA_CLIENTS * replicas, _PAYLOAD, _WARMUP + seconds + 30) as load:
            time.sleep(_WARMUP + seconds)  # the measurement window itself
            window_start = load.started + _WARMUP
        return _completed_in(load.outcomes, window_start, window_start + seconds) / seconds


def _kill_run(project: str, image: str, haproxy: str, replicas: int, seconds: float, record: RunRecord) -> None:
    victim = "replica2"
    with Stack(f"{project}-kill", image, haproxy, replicas) as stack:
        stack.wait_up(_READY_DEADLINE)
        clients = PER_REPLICA_CLIENTS * (replicas - 1)
        with GatewayLoad(stack.gateway_url, clients, _PAYLOAD, seconds + 60) as load:
            time.sleep(seconds / 3)
            stack.kill(victim)
            killed = time.monotonic()
            down_after = None
            while time.monotonic() < load.started + seconds:
                if down_after is None and not stack.states().get(victim, "").startswith("UP"):
                    down_after = time.monotonic() - killed
                time.sleep(0.05)
        gateway = stack.gateway_log()
    failed = [o for o in load.outcomes if not o.succeeded]
    retried = [line for line in gateway if line.retried]
    record.metrics.update(
        {
            "kill_requests": float(len(load.outcomes)),
            "kill_failed": float(len(failed)),
            "kill_retried_by_gateway": float(len(retried)),
            "kill_down_after_s": down_after,
            "kill_slowest_s": max((o.seconds for o in load.outcomes), default=None),
        }
    )
    record.notes.append(
        f"kill run ({clients} clients): {len(load.outcomes)} requests, {len(failed)} failed "
        f"{dict(Counter(o.why() for o in failed))}; HAProxy, request shapes: {summarize(gateway)}"
    )


def measure(settings: Settings, sprocket: list[str]) -> RunRecord:
    """One RunRecord for Sprocket with the goodput and kill-run figures (or the error)."""
    record = RunRecord(0, "replicas", "sprocket")
    run_id = f"{os.getpid()}-{int(time.time())}"
    image, haproxy = f"sprocket-bench-sleeper:{run_id}", f"sprocket-bench-haproxy:{run_id}"
    project = f"sprocket-bench-{run_id}"
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as workdir:
            # The bench's Sprocket env (the snapshot) builds it: the image gets that runtime.
            build_replica_image(sprocket, PREDICTORS / "sleeper", image, Path(workdir))
        build_haproxy_image(haproxy, f"sprocket.bench={run_id}")
        log.info("images built in %.0f s", time.monotonic() - started)
        one = _goodput(project, image, haproxy, 1, settings.replica_seconds)
        many = _goodput(project, image, haproxy, settings.replicas, settings.replica_seconds)
        record.metrics.update(
            {"replicas_goodput_1": one, "replicas_goodput_n": many, "replicas_scaling": many / one if one else None}
        )
        _kill_run(project, image, haproxy, settings.replicas, settings.replica_seconds, record)
    except Exception as error:
        record.error = f"{type(error).__name__}: {error}"
        log.error("replicas failed: %s", record.error)
    finally:
        remove_image(image)
        remove_image(haproxy)
    record.seconds = time.monotonic() - started
    return record
