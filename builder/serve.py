"""Start a model's HTTP server on a loopback port, in a container or in this Python, and wait for it.

Both kinds of `Server` publish only on 127.0.0.1, stop only what they started, and can say why
they died (`failure()`), so every wait ends with evidence instead of a bare timeout.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import IO, Any, Callable

import docker.errors
from docker import APIClient

__all__ = [
    "Server",
    "ContainerServer",
    "LocalServer",
    "ServerError",
    "free_port",
    "port_is_free",
    "get_json",
    "wait_ready",
    "fetch_openapi",
    "Clock",
]

Clock = Callable[[], float]


class ServerError(Exception):
    """The server did not start or did not become ready; one line for the user."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def get_json(url: str, timeout: float = 5.0, body: Any = None) -> tuple[int, Any]:
    """GET (or POST `body` as JSON) and decode the answer; (status, document)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="GET" if body is None else "POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except ValueError:
            return error.code, raw.decode(errors="replace")


class Server:
    """A running server. `url` is its loopback base URL."""

    url: str

    def failure(self) -> str | None:
        """None while the server process lives; else why it is gone, with its last output."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Tail:
    """Copies a byte stream line by line to `echo` (if any) and keeps the last lines."""

    def __init__(self, source: Any, echo: IO[str] | None, keep: int = 40) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self._echo = echo
        self._thread = threading.Thread(target=self._pump, args=(source,), daemon=True)
        self._thread.start()

    def _pump(self, source: Any) -> None:
        buffer = b""
        try:
            for chunk in source:
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._line(line)
        except Exception:  # the stream ends abruptly when the container is removed
            pass
        if buffer:
            self._line(buffer)

    def _line(self, raw: bytes) -> None:
        text = raw.decode(errors="replace").rstrip("\r")
        self.lines.append(text)
        if self._echo is not None:
            self._echo.write(text + "\n")
            self._echo.flush()

    def text(self) -> str:
        return "\n".join(self.lines)

    def last_line(self) -> str:
        """`; last output: <line>` for the last non-blank line, or ""."""
        for line in reversed(self.lines):
            if line.strip():
                return f"; last output: {line.strip()[:300]}"
        return ""

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ContainerServer(Server):
    """`image` running with its port 5000 published on 127.0.0.1:`port` (a free one if None)."""

    def __init__(
        self,
        client: APIClient,
        image: str,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        environment: dict[str, str] | None = None,
        command: list[str] | None = None,
        echo: IO[str] | None = None,
        name: str | None = None,
    ) -> None:
        self._client = client
        if port is not None and not port_is_free(port, host):
            raise ServerError(f"port {port} on {host} is already in use: pick another with -p")
        env = {"COG_LOG_LEVEL": "warning", **(environment or {})}
        host_config = client.create_host_config(port_bindings={5000: (host, port)})
        try:
            created = client.create_container(
                image,
                command=command,
                environment=env,
                ports=[5000],
                host_config=host_config,
                labels={"sprocket.started-by": str(os.getpid())},
                name=name,
            )
        except docker.errors.ImageNotFound:
            raise ServerError(f"image {image} not found: build it with `sprocket build -t {image}`") from None
        self.id: str = created["Id"]
        try:
            client.start(self.id)
        except docker.errors.APIError as error:
            self._remove()
            raise ServerError(f"cannot start {image}: {error.explanation or error}") from None
        bound = client.inspect_container(self.id)["NetworkSettings"]["Ports"]["5000/tcp"]
        self.port = int(bound[0]["HostPort"])
        self.url = f"http://{host}:{self.port}"
        self._logs = _Tail(client.logs(self.id, stream=True, follow=True), echo)

    def failure(self) -> str | None:
        try:
            state = self._client.inspect_container(self.id)["State"]
        except docker.errors.NotFound:
            return "the container is gone"
        if state.get("Running"):
            return None
        self._logs.join(2.0)
        detail = f"the container exited with code {state.get('ExitCode')}"
        if state.get("OOMKilled"):
            detail += " (killed: out of memory)"
        return detail + self._logs.last_line()

    def logs(self) -> str:
        return self._logs.text()

    def _remove(self) -> None:
        try:
            self._client.remove_container(self.id, force=True)
        except docker.errors.NotFound:
            pass

    def stop(self) -> None:
        try:
            self._client.stop(self.id, timeout=5)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            pass
        self._remove()


class LocalServer(Server):
    """`python -m runtime` in this environment, in `directory`, on 127.0.0.1:`port`."""

    def __init__(
        self,
        directory: str,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        environment: dict[str, str] | None = None,
        echo: IO[str] | None = None,
    ) -> None:
        if port is not None and not port_is_free(port, host):
            raise ServerError(f"port {port} on {host} is already in use: pick another with -p")
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        env = {**os.environ, "COG_LOG_LEVEL": "warning", **(environment or {}), "PORT": str(self.port)}
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "runtime", "--host", host],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stdout = self._process.stdout
        assert isinstance(stdout, io.BufferedReader)  # a pipe opened in binary mode
        self._logs = _Tail(iter(lambda: stdout.read1(65536), b""), echo)

    @property
    def pid(self) -> int:
        return self._process.pid

    def failure(self) -> str | None:
        code = self._process.poll()
        if code is None:
            return None
        self._logs.join(2.0)
        detail = f"`python -m runtime` exited with code {code}"
        return detail + self._logs.last_line()

    def logs(self) -> str:
        return self._logs.text()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._logs.join(2.0)


def _poll(
    server: Server, check: Callable[[], tuple[Any, str]], timeout: float, what: str, clock: Clock = time.monotonic
) -> Any:
    """Call `check` every 100 ms until it returns a result; ServerError on death or deadline.

    `check` returns (result or None, what it saw); what it saw last goes into the timeout message.
    """
    deadline = clock() + timeout
    seen = "no answer yet"
    while True:
        try:
            result, seen = check()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            result, seen = None, f"no answer ({getattr(error, 'reason', error)})"
        if result is not None:
            return result
        failure = server.failure()
        if failure is not None:
            raise ServerError(f"the server stopped while waiting for {what}: {failure}")
        if clock() >= deadline:
            raise ServerError(f"gave up waiting for {what} after {timeout:.0f}s; last seen: {seen}")
        time.sleep(0.1)


def wait_ready(server: Server, timeout: float = 300.0) -> dict[str, Any]:
    """Poll /health-check until READY; ServerError on SETUP_FAILED, death or `timeout`."""

    def check() -> tuple[dict[str, Any] | None, str]:
        _, body = get_json(f"{server.url}/health-check", timeout=2)
        status = body.get("status") if isinstance(body, dict) else None
        if status == "READY":
            return body, "READY"
        if status == "SETUP_FAILED":
            raise _setup_failure(body)
        if status in ("FAILED", "DEFUNCT"):
            raise ServerError(f"the server reports {status}: {json.dumps(body)}")
        return None, f"status {status}"

    return _poll(server, check, timeout, "the server to be READY")


def _setup_failure(health: dict[str, Any]) -> ServerError:
    """What a SETUP_FAILED health body says went wrong: the reason, then the setup logs."""
    logs = (health.get("setup") or {}).get("logs") or ""
    last = next((line for line in reversed(logs.splitlines()) if line.strip()), "")
    reason = health.get("error") or f"setup() failed: {last.strip() or 'no output'}"
    return ServerError(reason + (f"\n{logs.rstrip()}" if logs.strip() else ""))


def fetch_openapi(server: Server, timeout: float = 120.0) -> dict[str, Any]:
    """GET /openapi.json once the server answers it (it may while setup still runs); a predictor
    that failed to load is a ServerError saying why, without waiting out `timeout`."""

    def check() -> tuple[dict[str, Any] | None, str]:
        status, body = get_json(f"{server.url}/openapi.json", timeout=5)
        if status == 200 and isinstance(body, dict):
            return body, "HTTP 200"
        _, health = get_json(f"{server.url}/health-check", timeout=2)
        if isinstance(health, dict) and health.get("status") == "SETUP_FAILED":
            raise _setup_failure(health)
        return None, f"HTTP {status}"

    return _poll(server, check, timeout, "/openapi.json")
