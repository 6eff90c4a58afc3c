"""Starting, watching and stopping the three servers under test.

Every server runs in its own session (so its own process group), on a loopback port picked
here, in a private copy of the predictor directory. Stopping signals only that process group:
SIGTERM, a deadline, then SIGKILL. Nothing else on the machine is touched.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger("bench.servers")

REPO = Path(__file__).resolve().parent.parent
PREDICTORS = Path(__file__).resolve().parent / "predictors"
# Predictors measured as the project ships them, by name; the rest are under PREDICTORS.
EXAMPLES = {"text_embed": REPO / "examples" / "text-embed"}
# Files of the project's that a predictor under PREDICTORS imports as its siblings.
COPIED_IN = {
    name: {"text_embed.py": REPO / "examples" / "text-embed" / "predict.py"}
    for name in ("embed_unbatched", "embed_async")
}

READY_DEADLINE = 60.0
STOP_GRACE = 10.0
_POLL_INTERVAL = 0.005


@dataclass(frozen=True)
class ServerSpec:
    """How to run one server: interpreter, module, flags and environment."""

    name: str
    python: Path
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    path_prefix: Path | None = None
    # coglet validates inputs (and serves /openapi.json, SSE) only from .cog/openapi_schema.json.
    needs_schema_file: bool = False
    binds_all_interfaces: bool = False
    version: str = "?"
    # Directories the server writes to at a fixed path whatever TMPDIR says; each run gets its
    # own, mounted over that path in a mount namespace of the server's (see `_private_mounts`).
    fixed_dirs: tuple[str, ...] = ()

    def command(self) -> list[str]:
        return [str(self.python), *self.args]


class ServerError(Exception):
    """A server did not start, did not become READY in time, or died; carries its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_environ() -> dict[str, str]:
    """The harness's environment without anything that would steer a server under test."""
    drop = ("COG_", "PORT", "HOST", "VIRTUAL_ENV", "PYTHON", "LOG_FORMAT", "RUST_LOG", "WEBHOOK_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def predictor_dir(predictor: str) -> Path:
    return EXAMPLES.get(predictor, PREDICTORS / predictor)


def prepare_model_dir(predictor: str, schema: dict[str, object] | None) -> Path:
    """A private copy of the predictor's directory, with .cog/openapi_schema.json if given."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{predictor}-"))
    model = workdir / predictor
    shutil.copytree(predictor_dir(predictor), model, ignore=shutil.ignore_patterns("__pycache__", ".cog"))
    for name, source in COPIED_IN.get(predictor, {}).items():
        shutil.copy2(source, model / name)
    if schema is not None:
        (model / ".cog").mkdir()
        (model / ".cog" / "openapi_schema.json").write_text(json.dumps(schema))
    return model


_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000


def _private_mounts(mounts: list[tuple[Path, str]]) -> Callable[[], None] | None:
    """A `preexec_fn` giving the server a mount namespace of its own in which each (source,
    target) pair is bound, so what it writes under `target` lands in `source` and goes with its
    run. None where that cannot be done (not root, no mount namespaces): the server then writes
    to the real `target`, as it would anyway. Runs in the child between fork and exec, so only
    C calls: libc and the paths are made ready here, in the parent."""
    if not mounts:
        return None
    if os.geteuid() != 0:
        log.warning("not root: %s stay shared with other runs", ", ".join(t for _, t in mounts))
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    pairs = []
    for source, target in mounts:
        os.makedirs(target, exist_ok=True)  # the mount point itself, left empty
        pairs.append((os.fsencode(source), os.fsencode(target)))

    def enter() -> None:
        if libc.unshare(_CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            return  # stays in the shared namespace: writes to the real paths
        for source, target in pairs:
            libc.mount(source, target, None, _MS_BIND, None)

    return enter


@dataclass
class RunningServer:
    spec: ServerSpec
    predictor: str
    port: int
    process: subprocess.Popen[bytes]
    model_dir: Path
    log_path: Path
    spawned_at: float
    ready_at: float | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def cold_start(self) -> float:
        assert self.ready_at is not None
        return self.ready_at - self.spawned_at

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants that are still alive."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process tree so far (processes alive now)."""
        total = 0.0
        for process in self.tree():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise ServerError(f"{self.spec.name} exited with {code} while serving {self.predictor}:\n{self.log_tail()}")


def health_status(host: str, port: int) -> str | None:
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/health-check")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        status = json.loads(body).get("status")
        return status if isinstance(status, str) else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def wait_ready(server: RunningServer, deadline: float = READY_DEADLINE) -> None:
    """Poll /health-check every 5 ms until READY; cold start is spawn to that answer."""
    give_up = time.monotonic() + deadline
    last: str | None = None
    while time.monotonic() < give_up:
        server.check_alive()
        last = health_status(server.host, server.port)
        if last == "READY":
            server.ready_at = time.perf_counter()
            return
        time.sleep(_POLL_INTERVAL)
    raise ServerError(f"{server.spec.name} not READY after {deadline:.0f} s (last status {last}):\n{server.log_tail()}")


def stop(server: RunningServer, grace: float = STOP_GRACE) -> None:
    """SIGTERM the server's process group, then SIGKILL it after `grace` s; reap the leader."""
    pgid = server.process.pid  # start_new_session=True made the server its group's leader
    members = server.tree()
    if server.process.poll() is None:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            server.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # Whatever of the group (or of the tree we saw, should a child have left the group) is left.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        server.process.wait(timeout=5.0)
    except subprocess.TimeoutExpired as error:
        raise ServerError(f"{server.spec.name} (pid {pgid}) survived SIGKILL") from error
    psutil.wait_procs(members, timeout=5.0)


@contextmanager
def running(
    spec: ServerSpec,
    predictor: str,
    schema: dict[str, object] | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[RunningServer]:
    """Start `spec` serving `predictor`, wait for READY, yield it, and always stop it."""
    model_dir = prepare_model_dir(predictor, schema if spec.needs_schema_file else None)
    port = free_port()
    env = _clean_environ()
    env.update(spec.env)
    env.update(extra_env or {})
    env["PORT"] = str(port)
    # Whatever the server or the predictor writes with tempfile goes with the run's directory,
    # and so does what it writes to its fixed directories.
    private_tmp = model_dir.parent / "tmp"
    private_tmp.mkdir()
    env["TMPDIR"] = str(private_tmp)
    mounts = [(private_tmp / fixed.strip("/").replace("/", "-"), fixed) for fixed in spec.fixed_dirs]
    for source, _ in mounts:
        source.mkdir()
    if spec.path_prefix is not None:
        env["PATH"] = f"{spec.path_prefix}{os.pathsep}{env.get('PATH', '')}"
    log_path = model_dir.parent / "server.log"
    with open(log_path, "wb") as log_file:
        spawned_at = time.perf_counter()
        process = subprocess.Popen(
            [*spec.command(), *(extra_args or [])],
            cwd=model_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_private_mounts(mounts),
        )
    server = RunningServer(spec, predictor, port, process, model_dir, log_path, spawned_at)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)
        shutil.rmtree(model_dir.parent, ignore_errors=True)


def sprocket_spec(python: Path, digest: str) -> ServerSpec:
    # As its images and `sprocket serve` start it: with -P the model directory cannot shadow its modules.
    return ServerSpec(
        "sprocket", python, ("-P", "-m", "runtime", "--host", "127.0.0.1"), version=f"runtime/ sha256 {digest}"
    )


def cog098_spec(python: Path, version: str) -> ServerSpec:
    # No --host flag before 0.9.10: it always binds 0.0.0.0. We only ever talk to it on loopback.
    return ServerSpec("cog-0.9.8", python, ("-m", "cog.server.http"), binds_all_interfaces=True, version=version)


def coglet_spec(python: Path, bin_dir: Path, version: str) -> ServerSpec:
    return ServerSpec(
        f"coglet-{version}",
        python,
        ("-m", "cog.server.http", "--host", "127.0.0.1"),
        env={"COG_PREDICT_TYPE_STUB": "predict.py:Predictor"},
        path_prefix=bin_dir,
        needs_schema_file=True,
        version=version,
        # A directory per prediction under /tmp/coglet/predictions, never removed (the path is
        # compiled into coglet: TMPDIR does not move it).
        fixed_dirs=("/tmp/coglet",),
    )
