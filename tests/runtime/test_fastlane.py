"""The fast lane (runtime/http/fastlane.py) answers the hot path itself and hands every other
request, with its connection, to aiohttp. Both must answer alike, on real sockets."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from runtime.http.fastlane import Head, parse_head
from tests.conftest import module_server
from tests.support import GatedPrediction, Server

hello = module_server("hello")
gated = module_server("gated")
streamer = module_server("streamer", env={"SPROCKET_SSE_KEEPALIVE": "0.2"})

SSE = {"Accept": "text/event-stream"}

# What differs between two runs of one prediction, whichever lane served it.
_VOLATILE = ("id", "created_at", "started_at", "completed_at", "metrics")


class Connection:
    """One keep-alive HTTP/1.1 connection, written and read byte for byte."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self._pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = self._head()
        length = int(headers.get("content-length", "0"))
        body = self._take(length)
        return status, headers, body

    def chunked_response(self) -> tuple[int, dict[str, str], bytes]:
        """A response with a chunked body (an event stream), read up to its last chunk."""
        status, headers = self._head()
        assert headers.get("transfer-encoding") == "chunked"
        body = b""
        while True:
            size = int(self._line(), 16)
            body += self._take(size)
            assert self._take(2) == b"\r\n"
            if size == 0:
                return status, headers, body

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

    def close(self) -> None:
        self.sock.close()


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            chunked: bool = False) -> bytes:
    """A request; `chunked` sends the body in chunked encoding, which the fast lane leaves to aiohttp."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def stable(body: bytes) -> Any:
    value = json.loads(body)
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key not in _VOLATILE}
    return value


@pytest.fixture
def connection(hello: Server) -> Any:
    conn = Connection(hello)
    yield conn
    conn.close()


CASES = [
    ("POST", "/predictions", b'{"input": {"text": "lanes"}}', {}),
    ("POST", "/predictions", b"", {}),
    ("POST", "/predictions", b'{"input": {"text": 5}}', {}),
    ("POST", "/predictions", b'{"input": {"nope": 1}}', {}),
    ("POST", "/predictions", b"{not json", {}),
    ("POST", "/predictions", b'{"input": {}, "webhook": "ftp://example"}', {}),
    ("PUT", "/predictions/same-id", b'{"id": "other-id", "input": {}}', {}),
    ("POST", "/predictions", b'{"input": {"text": "later"}}', {"Prefer": "respond-async"}),
    ("POST", "/trainings", b'{"input": {}}', {}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), CASES)
def test_the_fast_lane_and_aiohttp_answer_alike(hello: Server, method: str, path: str, body: bytes,
                                                headers: dict[str, str]) -> None:
    answers = []
    for chunked in (False, True):
        hello.wait_for_status("READY")  # a respond-async prediction may still be running
        conn = Connection(hello)
        try:
            conn.send(request(method, path, body, headers, chunked=chunked))
            status, response_headers, payload = conn.response()
        finally:
            conn.close()
        answers.append((status, response_headers["content-type"], stable(payload)))
    fast, slow = answers
    assert fast == slow
    assert fast[0] < 500


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


def stream(server: Server, body: bytes, chunked: bool, path: str = "/predictions", method: str = "POST",
           headers: dict[str, str] | None = None) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    conn = Connection(server)
    try:
        conn.send(request(method, path, body, {**SSE, **(headers or {})}, chunked=chunked))
        status, response_headers, payload = conn.chunked_response()
    finally:
        conn.close()
    assert status == 200
    return response_headers, events_of(payload)


def test_an_event_stream_is_alike_in_both_lanes(streamer: Server) -> None:
    answers = []
    for chunked in (False, True):
        headers, events = stream(streamer, b'{"input": {"count": 3}}', chunked)
        answers.append(([headers[name] for name in ("content-type", "cache-control", "x-accel-buffering")],
                        [name for name, _ in events if name != "log"],
                        [data for name, data in events if name == "output"],
                        "".join(data["data"] for name, data in events if name == "log"),
                        events[-1]))
    fast, slow = answers
    assert fast == slow
    assert fast[1] == ["start", "output", "output", "output", "completed"]
    assert fast[2] == [{"chunk": f"t{i} ", "index": i} for i in range(3)]
    assert fast[4][1]["output"] == ["t0 ", "t1 ", "t2 "]


def test_a_quiet_event_stream_gets_keep_alive_comments_in_both_lanes(streamer: Server) -> None:
    for chunked in (False, True):
        _, events = stream(streamer, b'{"input": {"count": 2, "pause": 0.7}}', chunked)
        assert ("comment", ": keep-alive") in events
        assert [name for name, _ in events if name not in ("log", "comment")] == [
            "start", "output", "output", "completed"]


def test_after_an_event_stream_the_connection_serves_the_next_request(streamer: Server) -> None:
    conn = Connection(streamer)
    try:
        for count in (2, 1):
            body = json.dumps({"input": {"count": count}}).encode()
            conn.send(request("PUT", f"/predictions/keep-{count}", body, SSE))
            status, _, payload = conn.chunked_response()
            assert (status, events_of(payload)[-1][1]["output"]) == (200, [f"t{i} " for i in range(count)])
        conn.send(request("POST", "/predictions", b'{"input": {"count": 2}}'))
        status, _, body = conn.response()
        assert (status, json.loads(body)["output"]) == (200, ["t0 ", "t1 "])
    finally:
        conn.close()
    streamer.wait_for_log("PUT /predictions/keep-2 200")  # its access line, once the stream ended


def test_an_event_stream_error_is_a_json_reply_in_both_lanes(streamer: Server) -> None:
    answers = []
    for chunked in (False, True):
        conn = Connection(streamer)
        try:
            conn.send(request("POST", "/predictions", b'{"input": {"count": "many"}}', SSE, chunked=chunked))
            status, headers, body = conn.response()
        finally:
            conn.close()
        answers.append((status, headers["content-type"], json.loads(body)))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (422, "application/json")


def test_a_content_length_of_thousands_of_digits_is_a_4xx(hello: Server, connection: Connection) -> None:
    connection.send(b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}")
    status, _, _ = connection.response()
    assert 400 <= status < 500
    assert hello.get("/health-check").json()["status"] == "READY"


def test_a_last_event_id_that_is_no_event_id_replays_from_the_start_in_both_lanes(streamer: Server) -> None:
    for value in ("9" * 5000, "-3", "abc"):
        for chunked in (False, True):
            _, events = stream(streamer, b'{"input": {"count": 1}}', chunked, headers={"Last-Event-ID": value})
            assert [name for name, _ in events if name != "log"] == ["start", "output", "completed"], (value, chunked)


def test_one_connection_goes_on_in_aiohttp_after_a_request_the_fast_lane_does_not_serve(connection: Connection) -> None:
    connection.send(request("POST", "/predictions", b'{"input": {"text": "one"}}'))
    assert connection.response()[0] == 200
    connection.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, _, body = connection.response()
    assert (status, json.loads(body)["predictions_url"]) == (200, "/predictions")
    connection.send(request("POST", "/predictions", b'{"input": {"text": "two"}}'))
    status, _, body = connection.response()
    assert (status, json.loads(body)["output"]) == (200, "hello two")


def test_health_checks_are_answered_alike_and_keep_the_connection_in_the_lane(hello: Server,
                                                                               connection: Connection) -> None:
    health = b"GET /health-check HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    bodies = []
    for _ in range(2):
        connection.send(health)
        status, headers, body = connection.response()
        assert (status, headers["content-type"]) == (200, "application/json")
        bodies.append(json.loads(body))
        connection.send(request("POST", "/predictions", b'{"input": {"text": "between"}}'))
        assert connection.response()[0] == 200
    aiohttp = Connection(hello)
    try:
        aiohttp.send(health.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        status, _, body = aiohttp.response()
    finally:
        aiohttp.close()
    slow = json.loads(body)
    for fast in bodies:
        assert (fast["status"], sorted(fast)) == (slow["status"], sorted(slow)) == ("READY", sorted(slow))
    hello.wait_for_log("GET /health-check 200", count=3)


def test_pipelined_requests_are_answered_in_order(connection: Connection) -> None:
    connection.send(b"".join(request("PUT", f"/predictions/pipe-{i}", json.dumps({"input": {"text": str(i)}}).encode())
                             for i in range(3)))
    answers = [connection.response() for _ in range(3)]
    assert [(status, json.loads(body)["id"], json.loads(body)["output"]) for status, _, body in answers] == [
        (200, f"pipe-{i}", f"hello {i}") for i in range(3)]


def test_a_long_pipelined_run_of_refusals_is_answered_in_full(gated: Server, tmp_path: Path) -> None:
    with GatedPrediction(gated, tmp_path):
        conn = Connection(gated)
        conn.send(request("POST", "/predictions", b'{"input": {}}') * 3000)
        statuses = {conn.response()[0] for _ in range(3000)}
        conn.close()
    assert statuses == {409}


def test_a_request_sent_a_byte_at_a_time_is_served(connection: Connection) -> None:
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in request("POST", "/predictions", b'{"input": {"text": "slowly"}}'):
        connection.send(bytes([byte]))
    status, _, body = connection.response()
    assert (status, json.loads(body)["output"]) == (200, "hello slowly")


def test_an_access_line_is_logged_for_each_fast_lane_request(hello: Server, connection: Connection) -> None:
    connection.send(request("PUT", "/predictions/logged-here", b'{"input": {}}'))
    assert connection.response()[0] == 200
    hello.wait_for_log("PUT /predictions/logged-here 200")


def test_busy_is_409_whether_or_not_the_body_has_arrived(gated: Server, tmp_path: Path) -> None:
    body = b'{"input": {"entered": "x", "release": "y"}}'
    with GatedPrediction(gated, tmp_path):
        whole = Connection(gated)
        whole.send(request("POST", "/predictions", body))
        assert whole.response()[0] == 409
        # Only the head and half the body: refused before the rest is sent (aiohttp's early 409).
        partial = Connection(gated)
        partial.send(request("POST", "/predictions", body)[:-len(body) // 2])
        status, _, payload = partial.response()
        assert (status, json.loads(payload)) == (409, {"detail": "Already running a prediction"})
        whole.close()
        partial.close()


def _head(raw: bytes) -> Head | None:
    return parse_head(raw.partition(b"\r\n\r\n")[0])


@pytest.mark.parametrize(("method", "path", "extra", "expected"), [
    ("POST", "/predictions", {}, ("POST", None, False, 4)),
    ("PUT", "/predictions/abc-1.2_~x", {}, ("PUT", "abc-1.2_~x", False, 4)),
    ("POST", "/trainings", {"Prefer": "respond-async"}, ("POST", None, True, 4)),
    ("PUT", "/trainings/t1", {"Connection": "Keep-Alive"}, ("PUT", "t1", True, 4)),
    ("POST", "/predictions", {"Accept": "text/event-stream"}, ("POST", None, False, 4)),
])
def test_the_fast_lane_takes_plain_prediction_requests(method: str, path: str, extra: dict[str, str],
                                                       expected: tuple[Any, ...]) -> None:
    head = _head(request(method, path, b"{}\r\n", extra))
    assert head is not None
    assert (head.method, head.prediction_id, head.train, head.content_length) == expected


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health-check?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /health-check HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"POST /predictions?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
    b"PUT /predictions/a%2Fb HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions/abc/cancel HTTP/1.1\r\n\r\n",
    b"POST /predictions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /predictions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nContent-Length: -2\r\n\r\n{}",
    "POST /predictions HTTP/1.1\r\nContent-Length: \uff12\r\n\r\n{}".encode(),
    b"POST /predictions HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nX-Folded: a\r\n  b\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predictions HTTP/1.1\r\nBad Header: 1\r\n\r\n",
])
def test_the_fast_lane_leaves_everything_else_to_aiohttp(raw: bytes) -> None:
    assert _head(raw) is None
