"""`python -m runtime.probe` as an exec probe runs it: a subprocess asking a real HTTP server on
127.0.0.1 that answers /health-check as the test says."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from tests.support import REPO


class HealthServer(ThreadingHTTPServer):
    answer: bytes = b""


class HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer

    def do_GET(self) -> None:
        if self.path != "/health-check":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the probe's output, not the server's."""


@pytest.fixture
def health() -> Iterator[HealthServer]:
    server = HealthServer(("127.0.0.1", 0), HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("HOST", "PORT")}
    return subprocess.run(
        [sys.executable, "-m", "runtime.probe", *args],
        cwd=REPO,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def answer(server: HealthServer, body: dict[str, Any] | bytes) -> str:
    server.answer = body if isinstance(body, bytes) else json.dumps(body).encode()
    return str(server.server_address[1])


@pytest.mark.parametrize(
    "body, args, code, stderr",
    [
        ({"status": "READY", "setup": {"status": "succeeded"}}, [], 0, ""),
        ({"status": "BUSY"}, [], 1, "not ready: BUSY\n"),
        ({"status": "BUSY"}, ["--allow-busy"], 0, ""),
        ({"status": "STARTING"}, ["--allow-busy"], 1, "not ready: STARTING\n"),
        (
            {"status": "FAILED", "error": "worker killed by SIGKILL (out of memory?)"},
            [],
            1,
            "not ready: FAILED (worker killed by SIGKILL (out of memory?))\n",
        ),
        (
            {"status": "SETUP_FAILED", "error": "Traceback:\n  ValueError: boom\n"},
            [],
            1,
            "not ready: SETUP_FAILED (Traceback: ValueError: boom)\n",
        ),
    ],
    ids=["ready", "busy", "busy-allowed", "starting", "failed", "multi-line-error"],
)
def test_status_decides_the_exit_code(
    health: HealthServer, body: dict[str, Any], args: list[str], code: int, stderr: str
) -> None:
    result = probe("--port", answer(health, body), *args)
    assert (result.returncode, result.stdout, result.stderr) == (code, "", stderr)


@pytest.mark.parametrize(
    "body", [b"<html>hello</html>", b'{"state": "READY"}', b'["READY"]'], ids=["not-json", "no-status", "not-an-object"]
)
def test_garbage_answer_exits_2(health: HealthServer, body: bytes) -> None:
    result = probe("--port", answer(health, body))
    assert result.returncode == 2
    assert result.stderr.startswith(f"probe: http://127.0.0.1:{health.server_address[1]}/health-check answered")
    assert result.stderr.count("\n") == 1


def test_answer_that_is_not_http_exits_2() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_junk() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=answer_junk, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        result = probe("--port", str(port))
        thread.join(5)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"probe: http://127.0.0.1:{port}/health-check answered something other than HTTP: BadStatusLine"
    )
    assert result.stderr.count("\n") == 1


def test_nothing_listening_exits_2() -> None:
    with socket.socket() as placeholder:  # a port that was free a moment ago, and is closed now
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    result = probe("--port", str(port), "--timeout", "5")
    assert result.returncode == 2
    assert result.stderr.startswith(f"probe: cannot reach http://127.0.0.1:{port}/health-check: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("host", ["::", "0.0.0.0", None], ids=["ipv6-any", "ipv4-any", "unset"])
def test_host_and_port_from_the_environment(health: HealthServer, host: str | None) -> None:
    port = answer(health, {"status": "READY"})
    result = probe(env={"PORT": port, **({"HOST": host} if host is not None else {})})
    assert (result.returncode, result.stderr) == (0, "")


def test_bad_port_is_a_usage_error() -> None:
    result = probe(env={"PORT": "http"})
    assert result.returncode == 2
    assert "invalid int value: 'http'" in result.stderr
