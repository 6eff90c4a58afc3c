"""HTTP/1.1 byte for byte, for tests that must control exactly what goes on the wire: pipelining,
framing, malformed requests, clients that stop reading. Nothing here interprets more of the
response than its framing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import requests

# What differs between two runs of one prediction.
VOLATILE = ("id", "created_at", "started_at", "completed_at", "metrics")


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:`port`."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = self._head()
        if headers.get("transfer-encoding") == "chunked":
            return status, headers, self._chunks()
        return status, headers, self._take(int(headers.get("content-length", "0")))

    def _chunks(self) -> bytes:
        body = b""
        while True:
            size = int(self._line(), 16)
            body += self._take(size)
            assert self._take(2) == b"\r\n"
            if size == 0:
                return body

    def _head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._pending:
            self._receive()
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
        return int(status_line.split()[1]), headers

    def _line(self) -> bytes:
        while b"\r\n" not in self._pending:
            self._receive()
        line, _, self._pending = self._pending.partition(b"\r\n")
        return line

    def _take(self, size: int) -> bytes:
        while len(self._pending) < size:
            self._receive()
        taken, self._pending = self._pending[:size], self._pending[size:]
        return taken

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._pending += chunk

    def status_or_close(self) -> int | None:
        """The next response's status, or None if the server closed the connection instead."""
        try:
            return self._head()[0]
        except (ConnectionError, OSError):
            return None

    def close(self) -> None:
        self.sock.close()


def request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, chunked: bool = False
) -> bytes:
    """A well-formed request; `chunked` sends the body in chunked transfer encoding."""
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def stable(body: bytes) -> Any:
    """A JSON body without what differs between runs."""
    value = json.loads(body)
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key not in VOLATILE}
    return value


def events_of(body: bytes) -> list[tuple[str, Any]]:
    """(event, data) of each event in an event stream, with what differs between runs left out;
    comment lines (keep-alives) as ("comment", text)."""
    events = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.partition(": ")[::2] for line in block.splitlines() if not line.startswith(":"))
        events += [("comment", line) for line in block.splitlines() if line.startswith(":")]
        if "event" in fields:
            events.append((fields["event"], stable(fields["data"].encode())))
    return events


SSE = {"Accept": "text/event-stream"}


def read_events(response: requests.Response) -> Iterator[tuple[int, str, Any]]:
    """(id, event, data) of each event in a text/event-stream response, as it arrives."""
    fields: dict[str, str] = {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "event" in fields:
                yield int(fields.get("id", 0)), fields["event"], json.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
