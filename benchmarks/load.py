"""Clients that put load on a server and time it: one keep-alive connection, wrk, and SSE.

Every call has a socket timeout and every loop a bound, so a hung server costs a deadline,
never the run.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "post.lua"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One HTTP/1.1 keep-alive connection over a plain socket; reconnects once if the server
    closed it.

    Deliberately lean: the request bytes are built once and the response is parsed only as far
    as framing needs (status, Content-Length or chunked, Connection: close). http.client costs
    ~150 us of Python per request, the same for every server, which would only dilute the
    differences between them; wrk is used for the rates for the same reason.
    """

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._pending = b""

    def _connection(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending = b""
        return self._sock

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        for attempt in (1, 2):
            sock = self._connection()
            start = time.perf_counter()
            try:
                sock.sendall(raw)
                status, will_close, data = self._read_response(sock)
            except (ConnectionError, _ServerClosed):
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - start
            if will_close:
                self.close()
            return Reply(status, data, elapsed)
        raise AssertionError("unreachable")

    def _read_response(self, sock: socket.socket) -> tuple[int, bool, bytes]:
        head = self._read_until(sock, b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        will_close = headers.get("connection", "").lower() == "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while size := int(self._read_until(sock, b"\r\n").split(b";")[0], 16):
                chunks.append(self._read_exactly(sock, size + 2)[:-2])
            self._read_until(sock, b"\r\n")  # no trailers are sent to us
            data = b"".join(chunks)
        elif "content-length" in headers:
            data = self._read_exactly(sock, int(headers["content-length"]))
        else:
            data, will_close = self._read_to_close(sock), True
        return int(status_line.split()[1]), will_close, data

    def _receive(self, sock: socket.socket) -> None:
        chunk = sock.recv(262144)
        if not chunk:
            raise _ServerClosed()
        self._pending += chunk

    def _read_until(self, sock: socket.socket, marker: bytes) -> bytes:
        while (end := self._pending.find(marker)) < 0:
            self._receive(sock)
        found, self._pending = self._pending[:end], self._pending[end + len(marker) :]
        return found

    def _read_exactly(self, sock: socket.socket, size: int) -> bytes:
        parts, have = [self._pending], len(self._pending)
        while have < size:
            chunk = sock.recv(max(262144, size - have))
            if not chunk:
                raise _ServerClosed()
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self._pending = data[size:]
        return data[:size]

    def _read_to_close(self, sock: socket.socket) -> bytes:
        parts = [self._pending]
        while chunk := sock.recv(262144):
            parts.append(chunk)
        self._pending = b""
        return b"".join(parts)

    def post_json(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, json.dumps(payload).encode(), {**JSON_HEADERS, **(headers or {})})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _ServerClosed(ConnectionError):
    """The server closed the connection before the response was complete."""


@dataclass
class Sequential:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    predict_times: list[float] = field(default_factory=list)


def sequential(client: Client, method: str, path: str, payload: Any | None, count: int, warmup: int = 50) -> Sequential:
    """`count` requests back to back on one connection, after `warmup` unrecorded ones.

    Latencies are of the 200 answers only; every status is counted.
    """
    body = json.dumps(payload).encode() if payload is not None else None
    headers = JSON_HEADERS if body is not None else {}
    result = Sequential()
    for i in range(warmup + count):
        reply = client.request(method, path, body, headers)
        if i < warmup:
            continue
        if reply.status == 200:  # a refusal (409) is fast and would flatter the latency
            result.latencies.append(reply.seconds)
        key = str(reply.status)
        result.statuses[key] = result.statuses.get(key, 0) + 1
        if reply.status == 200 and method == "POST":
            metrics = reply.json().get("metrics") or {}
            if isinstance(metrics.get("predict_time"), (int, float)):
                result.predict_times.append(float(metrics["predict_time"]))
    return result


@dataclass
class HealthDuringPredict:
    latencies: list[float]
    statuses: dict[str, int]
    predict_status: int
    predict_seconds: float
    timeouts: int


def health_during_predict(
    host: str, port: int, payload: Any, interval: float = 0.01, settle: float = 0.2, timeout: float = 30.0
) -> HealthDuringPredict:
    """Start a prediction on one connection; poll /health-check on another until it returns.

    A server whose event loop is blocked answers a health check only when the prediction ends:
    that wait is the latency we record, not a gap we skip.
    """
    outcome: dict[str, Any] = {}

    def predict() -> None:
        predictor = Client(host, port, timeout=timeout)
        try:
            reply = predictor.post_json("/predictions", payload)
            outcome["status"], outcome["seconds"] = reply.status, reply.seconds
        except OSError as error:
            outcome["status"], outcome["seconds"], outcome["error"] = -1, timeout, str(error)
        finally:
            predictor.close()

    thread = threading.Thread(target=predict, daemon=True)
    thread.start()
    time.sleep(settle)  # let predict() get going before the first probe
    probe = Client(host, port, timeout=timeout)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    timeouts = 0
    give_up = time.monotonic() + timeout
    try:
        while thread.is_alive() and time.monotonic() < give_up:
            try:
                reply = probe.request("GET", "/health-check")
            except TimeoutError:
                timeouts += 1
                probe.close()
                continue
            latencies.append(reply.seconds)
            state = str(reply.json().get("status")) if reply.status == 200 else f"HTTP {reply.status}"
            statuses[state] = statuses.get(state, 0) + 1
            time.sleep(interval)
    finally:
        probe.close()
        thread.join(timeout=timeout)
    return HealthDuringPredict(
        latencies, statuses, int(outcome.get("status", -1)), float(outcome.get("seconds", float("nan"))), timeouts
    )


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: `apt-get install -y wrk` (make bench does this)")
    return path


def wrk(url: str, connections: int, seconds: float, body: str) -> dict[str, Any]:
    """Closed-loop load from `connections` keep-alive clients on one wrk thread."""
    command = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, env={**os.environ, "WRK_BODY": body}, check=False
    )
    for line in result.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            data: dict[str, Any] = json.loads(line[len("WRK_RESULT ") :])
            data["rate"] = data["requests"] / (data["duration_us"] / 1e6)
            ok = sum(v for k, v in data["statuses"].items() if k.startswith("2"))
            data["ok_rate"] = ok / (data["duration_us"] / 1e6)
            data["share_409"] = data["statuses"].get("409", 0) / max(1, data["requests"])
            return data
    raise RuntimeError(f"wrk gave no result (exit {result.returncode}): {result.stderr.strip()[-500:]}")


@dataclass
class StreamTiming:
    supported: bool
    first_token: float | None = None
    completed: float | None = None
    tokens: int = 0
    note: str = ""
    final: dict[str, Any] = field(default_factory=dict)  # the terminal webhook's body


def sse_prediction(host: str, port: int, payload: Any, timeout: float = 30.0) -> StreamTiming:
    """POST with `Accept: text/event-stream`; time the first `output` event and `completed`.

    A server answering with anything but an event stream does not support SSE: we say so.
    """
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request(
            "POST", "/predictions", json.dumps(payload).encode(), {**JSON_HEADERS, "Accept": "text/event-stream"}
        )
        response = conn.getresponse()
        kind = response.getheader("Content-Type", "")
        if response.status != 200 or not kind.startswith("text/event-stream"):
            response.read()
            return StreamTiming(False, note=f"HTTP {response.status} {kind or 'no content type'}")
        timing = StreamTiming(True)
        buffer = b""
        event = ""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            chunk = response.read1(65536)
            if not chunk:
                break
            now = time.perf_counter()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace").rstrip("\r")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "output":
                    timing.tokens += 1
                    if timing.first_token is None:
                        timing.first_token = now - start
                elif line.startswith("data:") and event == "completed":
                    timing.completed = now - start
            if timing.completed is not None:
                break
        if timing.completed is None:
            timing.note = "stream ended without a completed event"
        return timing
    finally:
        conn.close()
