"""examples/deploy run for real: N replicas of an image built by `sprocket build`, as containers,
behind HAProxy in a container with examples/deploy/haproxy.cfg, through docker-compose and
examples/deploy/docker-compose.yml unchanged. Used by the replicas benchmark and tests/e2e.

Everything here is named after one compose project (`sprocket-<purpose>-<pid>-<time>`), so it
touches only the containers and network it made; `down()` removes them and checks none is left.
The gateway and HAProxy's stats page are published on free 127.0.0.1 ports: clients talk to the
gateway over loopback, HAProxy talks to the replicas over the project's own bridge network.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "examples" / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
REPLICA_NAMES = ("replica1", "replica2", "replica3")
LOCAL_BASE = "python:3.11-slim"  # scripts/base-image.sh makes it when no registry is reachable
_BUILD_DEADLINE = 900.0
_COMPOSE_DEADLINE = 180.0


class DeployError(Exception):
    """A build or docker-compose step failed; the message carries its output."""


def _run(
    command: Sequence[str], what: str, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    try:
        result = subprocess.run(
            list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise DeployError(f"{what}: no result after {timeout:.0f} s ({' '.join(command)})") from error
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise DeployError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{tail}")
    return result.stdout


def compose_command() -> list[str]:
    """`docker-compose` (Debian's 1.29) if installed, else the `docker compose` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    raise DeployError(
        "neither docker-compose nor the docker compose plugin is installed: apt-get install -y docker-compose"
    )


def build_replica_image(sprocket: Sequence[str], model: Path, tag: str, workdir: Path) -> None:
    """`sprocket build -t tag` in a copy of `model` made in `workdir` (the build writes .sprocket/ there)."""
    copy = workdir / model.name
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("__pycache__", ".sprocket"))
    _run(
        [*sprocket, "build", "-t", tag],
        f"sprocket build of {model.name}",
        _BUILD_DEADLINE,
        cwd=copy,
    )


def build_haproxy_image(tag: str, label: str, base: str = LOCAL_BASE) -> None:
    """examples/deploy/haproxy.Dockerfile: HAProxy from Debian's package on `base`."""
    _run(
        [
            "docker",
            "build",
            "-q",
            "-f",
            str(DEPLOY / "haproxy.Dockerfile"),
            "--build-arg",
            f"BASE={base}",
            "--label",
            label,
            "-t",
            tag,
            str(DEPLOY),
        ],
        "building the HAProxy image",
        _BUILD_DEADLINE,
    )


def remove_image(tag: str) -> None:
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LOG_LINE = re.compile(
    r"(?P<backend>\S+)/(?P<server>\S+) (?P<timers>\S+) (?P<status>-?\d+) \S+ \S+ \S+ "
    r'(?P<termination>\S{4}) (?P<conns>\S+) \S+ "(?P<request>[^"]*)"'
)


@dataclass(frozen=True)
class GatewayLine:
    """One request as HAProxy logged it (httplog)."""

    server: str
    status: int
    termination: str  # e.g. "----" (normal), "SC--" (server closed/refused), "sQ--"
    retries: str  # "+2": redispatched after 2 retries; "2": retried twice on the same server

    @property
    def retried(self) -> bool:
        return self.retries not in ("0", "+0")


def gateway_lines(log: str) -> list[GatewayLine]:
    """The requests HAProxy sent to the replicas (its own stats page's are left out)."""
    out = []
    for match in _LOG_LINE.finditer(log):
        if match.group("backend") != "sprocket":
            continue
        retries = match.group("conns").rsplit("/", 1)[-1]
        out.append(GatewayLine(match.group("server"), int(match.group("status")), match.group("termination"), retries))
    return out


def summarize(lines: Sequence[GatewayLine]) -> dict[str, int]:
    """How many requests HAProxy answered per (status, server, termination, retried) shape."""
    return dict(
        Counter(f"{line.status} {line.server} {line.termination}{' retried' if line.retried else ''}" for line in lines)
    )


class Stack:
    """`with Stack(project, image, haproxy_image, replicas=3) as stack:` up, and always down."""

    def __init__(
        self, project: str, image: str, haproxy_image: str, replicas: int = 3, replica_env: dict[str, str] | None = None
    ) -> None:
        if not 1 <= replicas <= len(REPLICA_NAMES):
            raise ValueError(f"docker-compose.yml has {len(REPLICA_NAMES)} replicas, asked for {replicas}")
        self.project = project
        self.replicas = REPLICA_NAMES[:replicas]
        self.gateway_port, self.stats_port = _free_port(), _free_port()
        self._compose = [*compose_command(), "--project-name", project, "--file", str(COMPOSE_FILE)]
        self._env = {
            **os.environ,
            "SPROCKET_IMAGE": image,
            "HAPROXY_IMAGE": haproxy_image,
            "SPROCKET_GATEWAY_PUBLISH": f"127.0.0.1:{self.gateway_port}",
            "SPROCKET_STATS_PUBLISH": f"127.0.0.1:{self.stats_port}",
            **(replica_env or {}),
        }

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def compose(self, *args: str, timeout: float = _COMPOSE_DEADLINE) -> str:
        return _run([*self._compose, *args], f"docker-compose {args[0]}", timeout, cwd=DEPLOY, env=self._env)

    def up(self) -> None:
        # --no-deps: with fewer than three replicas HAProxy starts without the others; it puts a
        # server whose name does not resolve in maintenance and sends it nothing.
        self.compose("up", "--detach", "--no-deps", *self.replicas, "haproxy")

    def _stats(self) -> list[dict[str, str]]:
        """The backend's server rows of HAProxy's stats CSV ([] while it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/;csv", timeout=2) as response:
                text = response.read().decode().lstrip("# ")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return []
        return [
            row
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "sprocket" and row["svname"] not in ("FRONTEND", "BACKEND")
        ]

    def states(self) -> dict[str, str]:
        """HAProxy's view of each replica: "UP L7OK" once a health check passed (a server starts
        UP before its first check), "DOWN L4CON", "MAINT (resolution)", ..."""
        return {row["svname"]: f"{row['status']} {row['check_status']}".strip() for row in self._stats()}

    def sessions(self) -> dict[str, int]:
        """Requests each replica has in flight now, as HAProxy counts them."""
        return {row["svname"]: int(row["scur"] or 0) for row in self._stats()}

    def wait_up(self, timeout: float) -> None:
        """Until every started replica passed a health check (setup done, /readyz 200)."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            seen = self.states()
            if all(seen.get(name) == "UP L7OK" for name in self.replicas):
                return
            time.sleep(0.2)
        raise DeployError(f"replicas not UP in HAProxy after {timeout:.0f} s: {seen}\n{self.logs()[-4000:]}")

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def kill(self, service: str) -> None:
        """SIGKILL the service's container (tini and the server with it)."""
        _run(["docker", "kill", "--signal", "KILL", self.container(service)], f"docker kill {service}", 60)

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", *services)

    def gateway_log(self) -> list[GatewayLine]:
        return gateway_lines(self.logs("haproxy"))

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        left = _run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"], "docker ps", 60
        ).split()
        if left:
            raise DeployError(f"containers of {self.project} left after down: {left}")

    def __enter__(self) -> Self:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
