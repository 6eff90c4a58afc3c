"""examples/deploy for real: three replicas of an image built by `sprocket build`, as containers
started by docker-compose from examples/deploy/docker-compose.yml, behind HAProxy in a container
running examples/deploy/haproxy.cfg. A steady load goes through the gateway on 127.0.0.1; one
replica's container is SIGKILLed while it has requests in flight.

What must hold: every request the client sent succeeds. The killed container's in-flight and
queued requests end with its connections closed before a byte of answer, which `retry-on
empty-response` sends to another replica; the requests that reach the dead address before HAProxy
marks it down fail to connect, which `conn-failure` retries. Eight clients fit in the two
survivors' ten places (1 running + SPROCKET_QUEUE_SIZE=4 each), so none is refused for want of
room. So no request is one the gateway could not send elsewhere, and none may fail: a failure
names its HTTP status or error and what HAProxy logged. HAProxy must also have retried at least
one request (the kill hit work in flight) and stop sending to the dead replica: `docker kill`
counts as a manual stop, so `restart: unless-stopped` does not bring it back.

Needs the Docker engine, docker-compose and the local python:3.11-slim (`make test` provides all
three); without them the test fails, it does not skip. Takes about 20 s here with warm caches,
most of it the two image builds (the HAProxy one runs apt-get in a container).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from typing import Iterator

import pytest

from benchmarks.deploy import (
    DeployError,
    GatewayLine,
    Stack,
    build_haproxy_image,
    build_replica_image,
    remove_image,
    summarize,
)
from benchmarks.gateway_load import GatewayLoad, Outcome
from tests.support import REPO, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUN_ID = f"{os.getpid()}-{int(time.time())}"
SLEEPER = REPO / "benchmarks" / "predictors" / "sleeper"  # sleeps `delay` s, returns its hostname
VICTIM = "replica2"
CLIENTS = 8  # fits in two replicas' places (see above)
PAYLOAD = {"input": {"delay": 0.1}}
LOAD_DEADLINE = 120.0  # the load's own bound; the test stops it much earlier


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    replica, haproxy = f"sprocket-e2e-sleeper:{RUN_ID}", f"sprocket-e2e-haproxy:{RUN_ID}"
    sprocket = [sys.executable, "-m", "cli"]
    try:
        build_replica_image(sprocket, SLEEPER, replica, tmp_path_factory.mktemp("sleeper"))
        build_haproxy_image(haproxy, f"sprocket.e2e={RUN_ID}")
        yield replica, haproxy
    except DeployError as error:
        pytest.fail(
            f"{error}\nThese tests need the Docker engine and python:3.11-slim: scripts/base-image.sh", pytrace=False
        )
    finally:
        remove_image(replica)
        remove_image(haproxy)


@pytest.fixture
def stack(images: tuple[str, str]) -> Iterator[Stack]:
    with Stack(f"sprocket-e2e-{RUN_ID}", *images, replicas=3) as running:
        running.wait_up(timeout=120)
        yield running


def served_by(outcomes: list[Outcome], hostname: str, since: float = 0.0) -> int:
    return sum(1 for o in list(outcomes) if o.succeeded and o.detail == hostname and o.started >= since)


def in_flight(stack: Stack, service: str) -> int:
    return stack.sessions().get(service, 0)


def explain(failed: list[Outcome], gateway: list[GatewayLine]) -> str:
    return (
        f"{len(failed)} requests failed: {dict(Counter(o.why() for o in failed))}; "
        f"HAProxy's requests by status, replica, termination state: {summarize(gateway)}"
    )


def test_killing_a_replica_container_fails_no_request_the_gateway_could_resend(stack: Stack) -> None:
    hosts = {service: stack.container(service)[:12] for service in stack.replicas}  # hostname = short id
    with GatewayLoad(stack.gateway_url, CLIENTS, PAYLOAD, LOAD_DEADLINE) as load:
        wait_until(
            lambda: all(served_by(load.outcomes, host) >= 5 for host in hosts.values()),
            30,
            "every replica to serve 5 predictions through the gateway",
        )
        wait_until(lambda: in_flight(stack, VICTIM) >= 2, 10, f"two requests in flight on {VICTIM}", interval=0.005)
        stack.kill(VICTIM)
        killed = time.monotonic()
        wait_until(
            lambda: not stack.states().get(VICTIM, "UP").startswith("UP"),
            15,
            f"HAProxy to take {VICTIM} out of rotation",
        )
        out_of_rotation = time.monotonic()
        wait_until(
            lambda: all(
                served_by(load.outcomes, hosts[s], since=out_of_rotation) >= 20 for s in stack.replicas if s != VICTIM
            ),
            30,
            "the other replicas to serve 20 predictions each after that",
        )
    outcomes = list(load.outcomes)
    gateway = stack.gateway_log()
    failed = [o for o in outcomes if not o.succeeded]
    assert not failed, explain(failed, gateway)
    retried = [line for line in gateway if line.retried]
    assert retried, f"HAProxy retried nothing: the kill hit no request in flight? {summarize(gateway)}"
    assert all(line.status == 200 and line.server != VICTIM for line in retried), summarize(retried)
    late = [o for o in outcomes if o.detail == hosts[VICTIM] and o.started > killed]
    assert not late, f"{len(late)} requests sent after the kill were answered by the killed replica"
    assert {o.detail for o in outcomes} <= set(hosts.values())
    print(
        f"\n{len(outcomes)} requests, none failed; HAProxy retried {len(retried)} and took {VICTIM} out "
        f"{out_of_rotation - killed:.2f} s after the kill; slowest request "
        f"{max(o.seconds for o in outcomes):.2f} s; {summarize(gateway)}"
    )
