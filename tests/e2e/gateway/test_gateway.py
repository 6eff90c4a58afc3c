"""Three replicas behind a real HAProxy running examples/deploy/haproxy.cfg, all on loopback.

A steady stream of predictions goes through the gateway; one replica's worker is SIGKILLed with a
prediction in flight. The client must see that one prediction end `failed` (HTTP 200) and nothing
else go wrong: no 5xx from HAProxy, no connection error, every other prediction `succeeded`.
HAProxy must mark the replica DOWN (its /readyz says 503) and stop sending it work; with
SPROCKET_RESTART_POLICY=on-failure it must take the replica back once /readyz says 200 again.

Needs HAProxy (`apt-get install -y haproxy`); without it the tests fail, they do not skip.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest
import requests

from tests.support import REPO, Server, wait_until

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent  # gateway_replica.py
HAPROXY_CFG = REPO / "examples" / "deploy" / "haproxy.cfg"
REPLICAS = ("replica1", "replica2", "replica3")
VICTIM = "replica2"
CLIENTS = 4
DELAY = 0.03  # seconds per prediction, so that requests overlap
MAX_REQUESTS_PER_CLIENT = 2000
STREAM_SECONDS = 60  # the stream's own deadline; the test stops it much earlier


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gateway_config(servers: dict[str, int]) -> str:
    """examples/deploy/haproxy.cfg with its replica lines pointing at loopback ports."""
    text = HAPROXY_CFG.read_text()
    lines = "".join(f"    server {name} 127.0.0.1:{port}\n" for name, port in servers.items())
    replaced, count = re.subn(
        r"(# replicas:begin\n).*?(\s*# replicas:end)",
        lambda m: m.group(1) + lines + m.group(2).lstrip("\n"),
        text,
        flags=re.S,
    )
    assert count == 1, f"{HAPROXY_CFG} lost its '# replicas:begin' / '# replicas:end' markers"
    return replaced


class Gateway:
    """`haproxy -db` (foreground) on loopback, with its admin socket in `directory`."""

    def __init__(self, servers: dict[str, int], directory: Path) -> None:
        binary = shutil.which("haproxy") or next(
            (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(p)), None
        )
        if binary is None:
            pytest.fail(
                "haproxy is not installed; these tests need it: apt-get install -y haproxy "
                "(Debian package, HAProxy 2.6)"
            )
        self.config = directory / "haproxy.cfg"
        self.config.write_text(gateway_config(servers))
        self.socket_path = directory / "haproxy.sock"
        self.port = free_port()
        env = {
            **os.environ,
            "SPROCKET_GATEWAY_BIND": f"127.0.0.1:{self.port}",
            "SPROCKET_STATS_BIND": f"127.0.0.1:{free_port()}",
            "SPROCKET_STATS_SOCKET": str(self.socket_path),
        }
        checked = subprocess.run(
            [binary, "-c", "-f", str(self.config)], env=env, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, f"haproxy -c rejected the config:\n{checked.stdout}{checked.stderr}"
        self.log_path = directory / "haproxy.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - the server's log, open while it runs, closed by stop()
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(self.config)], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: self._alive() and self.socket_path.exists(), 10, "haproxy's admin socket")

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"haproxy exited with {self.process.returncode}:\n{self.log()}")
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.socket_path))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` rows of the backend's servers, by server name."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(line for line in text.splitlines() if line)
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "sprocket" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def statuses(self) -> dict[str, str]:
        return {name: row["status"] for name, row in self.servers().items()}

    def wait_for_status(self, name: str, status: str, timeout: float) -> None:
        seen: list[dict[str, str]] = []

        def reached() -> bool:
            seen[:] = [self.statuses()]
            return seen[0].get(name, "").startswith(status)

        try:
            wait_until(reached, timeout, f"haproxy to mark {name} {status}", interval=0.05)
        except AssertionError as error:
            raise AssertionError(f"{error}; statuses {seen}; haproxy log:\n{self.log()[-4000:]}") from None

    def stop(self) -> None:
        """SIGTERM (HAProxy's hard stop), then SIGKILL; afterwards the process is gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        assert (
            not psutil.pid_exists(self.process.pid) or psutil.Process(self.process.pid).status() == psutil.STATUS_ZOMBIE
        ), "haproxy is still running"


@dataclass
class Outcome:
    at: float
    n: int
    http_status: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None

    @property
    def replica(self) -> str | None:
        output = (self.body or {}).get("output")
        return output.split(":")[0] if isinstance(output, str) else None


@dataclass
class Stream:
    """`CLIENTS` threads posting predictions through the gateway back to back until stopped, each
    at most MAX_REQUESTS_PER_CLIENT times and for at most STREAM_SECONDS."""

    url: str
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = 0
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _client(self) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        with requests.Session() as session:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                outcome = Outcome(time.monotonic(), self._next())
                try:
                    response = session.post(
                        self.url + "/predictions", timeout=60, json={"input": {"n": outcome.n, "delay": DELAY}}
                    )
                    outcome.http_status = response.status_code
                    try:
                        outcome.body = response.json()
                    except ValueError:
                        outcome.error = f"not JSON: {response.text[:200]!r}"
                except requests.RequestException as error:
                    outcome.error = repr(error)
                with self._lock:
                    self.outcomes.append(outcome)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def served_by(self, replica: str, since: float = 0.0) -> int:
        return sum(1 for o in self.snapshot() if o.replica == replica and o.at >= since)

    def finish(self) -> list[Outcome]:
        self.stop.set()
        for thread in self._threads:
            thread.join(70)
            assert not thread.is_alive(), "a client thread is still waiting for an answer"
        return self.snapshot()


@pytest.fixture
def replicas(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Server]]:
    policy = getattr(request, "param", "never")
    servers: dict[str, Server] = {}
    try:
        for name in REPLICAS:
            env = {
                "GATEWAY_REPLICA": name,
                "GATEWAY_STALL": str(tmp_path / f"stall-{name}"),
                "SPROCKET_QUEUE_SIZE": str(CLIENTS),
                "SPROCKET_RESTART_POLICY": policy,
                "SPROCKET_RESTART_BACKOFF": "0.5",
                "COG_LOG_LEVEL": "info",
            }
            servers[name] = Server("gateway_replica", workdir=FIXTURES, env=env)
        for server in servers.values():
            server.wait_for_status("READY", timeout=60)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def gateway(replicas: dict[str, Server], tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway({name: server.port for name, server in replicas.items()}, tmp_path)
    try:
        for name in REPLICAS:
            gateway.wait_for_status(name, "UP", timeout=15)
        yield gateway
    finally:
        gateway.stop()


def kill_the_victim_once_all_serve(stream: Stream, replicas: dict[str, Server], tmp_path: Path) -> None:
    """Wait until every replica has served 10 predictions of `stream`, then kill VICTIM's worker
    with a prediction in flight."""
    wait_until(
        lambda: all(stream.served_by(name) >= 10 for name in REPLICAS),
        30,
        "every replica to serve 10 predictions through the gateway",
    )
    kill_worker_in_flight(replicas[VICTIM], tmp_path / f"stall-{VICTIM}")


def kill_worker_in_flight(replica: Server, stall: Path) -> None:
    """Hold the next prediction that reaches `replica` inside predict(), then SIGKILL its worker."""
    worker = replica.worker()
    stall.touch()
    entered = stall.with_name(stall.name + ".entered")
    wait_until(entered.exists, 15, f"a prediction in flight on {replica.url}")
    assert replica.status() == "BUSY"
    worker.send_signal(signal.SIGKILL)
    stall.unlink()
    psutil.wait_procs([worker], timeout=5)


def assert_only_the_in_flight_one_failed(outcomes: list[Outcome], gateway: Gateway) -> list[Outcome]:
    broken = [o for o in outcomes if o.error is not None or o.http_status != 200]
    notable = "\n".join(line for line in gateway.log().splitlines() if f"/{VICTIM} " in line or " 200 " not in line)
    assert not broken, (
        f"{len(broken)} requests failed at the HTTP level, e.g. {broken[:5]}; "
        f"haproxy log, {VICTIM} and anything but 200:\n{notable[-6000:]}"
    )
    failed = [o for o in outcomes if o.body and o.body["status"] != "succeeded"]
    assert len(failed) == 1, f"expected exactly the in-flight prediction to fail, got {failed}"
    assert failed[0].body is not None and failed[0].body["status"] == "failed"
    assert "SIGKILL" in (failed[0].body["error"] or ""), failed[0].body
    return failed


def test_the_gateway_routes_around_a_replica_whose_worker_died(
    replicas: dict[str, Server], gateway: Gateway, tmp_path: Path
) -> None:
    started = time.monotonic()
    stream = Stream(gateway.url)
    try:
        kill_the_victim_once_all_serve(stream, replicas, tmp_path)
        killed = time.monotonic()
        gateway.wait_for_status(VICTIM, "DOWN", timeout=10)
        down = time.monotonic()
        wait_until(
            lambda: all(stream.served_by(name, since=down) >= 50 for name in REPLICAS if name != VICTIM),
            30,
            "the other replicas to serve 50 predictions each after the kill",
        )
    finally:
        outcomes = stream.finish()

    assert_only_the_in_flight_one_failed(outcomes, gateway)
    after_kill = [o for o in outcomes if o.at > killed and o.body and o.body["status"] == "succeeded"]
    assert after_kill and not [o for o in after_kill if o.replica == VICTIM]
    assert gateway.statuses() == {"replica1": "UP", "replica2": "DOWN", "replica3": "UP"}
    assert replicas[VICTIM].status() == "FAILED"
    assert replicas[VICTIM].get("/readyz").status_code == 503
    # Requests sent to the dead replica before HAProxy marked it DOWN got a 503 from it, which
    # HAProxy retried on another replica: counted here, invisible to the client.
    retried = sum(1 for line in gateway.log().splitlines() if " 200 " in line and "/+" in line)
    reason = next((line for line in gateway.log().splitlines() if f"{VICTIM} is DOWN" in line), "")
    print(
        f"\n{len(outcomes)} predictions in {time.monotonic() - started:.1f} s; {VICTIM} marked DOWN "
        f"{down - killed:.2f} s after the kill; requests HAProxy retried on another replica: {retried}; "
        f"{reason.split('reason: ')[-1]}"
    )


@pytest.mark.parametrize("replicas", ["on-failure"], indirect=True)
def test_a_replica_restarted_by_its_policy_rejoins_the_gateway(
    replicas: dict[str, Server], gateway: Gateway, tmp_path: Path
) -> None:
    stream = Stream(gateway.url)
    try:
        kill_the_victim_once_all_serve(stream, replicas, tmp_path)
        # The restart (0.5 s backoff) may win against the health checks: DOWN is not guaranteed,
        # but UP again and work for the new worker are. The new worker may be BUSY with the
        # gateway's traffic the moment it is ready, so READY alone might never be seen.
        wait_until(
            lambda: (health := replicas[VICTIM].health())["restarts"] == 1 and health["status"] in ("READY", "BUSY"),
            20,
            f"{VICTIM}'s new worker to be ready",
        )
        gateway.wait_for_status(VICTIM, "UP", timeout=15)
        back = time.monotonic()
        wait_until(
            lambda: stream.served_by(VICTIM, since=back) >= 10,
            30,
            f"{VICTIM} to serve 10 predictions after its restart",
        )
    finally:
        outcomes = stream.finish()

    assert_only_the_in_flight_one_failed(outcomes, gateway)
    assert gateway.statuses() == {name: "UP" for name in REPLICAS}
    assert replicas[VICTIM].health()["restarts"] == 1


def test_a_cancel_through_the_gateway_reaches_the_replica_running_the_prediction(
    replicas: dict[str, Server], gateway: Gateway
) -> None:
    # Three long predictions created with PUT (one per replica: leastconn with maxconn-free
    # servers spreads them), then cancelled through the gateway: each cancel must reach the
    # replica that runs it (stick table on the id), not get 404 from another one.
    ids = [f"gateway-cancel-{index}" for index in range(3)]
    with requests.Session() as session:
        for prediction_id in ids:
            response = session.put(
                f"{gateway.url}/predictions/{prediction_id}",
                timeout=30,
                headers={"Prefer": "respond-async"},
                json={"input": {"delay": 30}},
            )
            assert response.status_code == 202, response.text
        wait_until(
            lambda: all(r.status() == "BUSY" for r in replicas.values()),
            15,
            "every replica to run one of the predictions",
        )
        # In reverse order: without stickiness, leastconn among idle replicas would send the
        # cancels round in the order the predictions went, and the test would pass by luck.
        for prediction_id in reversed(ids):
            response = session.post(f"{gateway.url}/predictions/{prediction_id}/cancel", timeout=30)
            assert response.status_code == 200, f"cancel of {prediction_id}: {response.status_code} {response.text}"
    for replica in replicas.values():
        replica.wait_for_status("READY", timeout=15)
