"""What a client sees on the wire: keep-alive, pipelining, both body framings, event streams,
refusals before the body has arrived. Real sockets against a real server."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import module_server
from tests.support import GatedPrediction, Server
from tests.wire import Connection, events_of, request, stable

hello = module_server("hello")
gated = module_server("gated")
streamer = module_server("streamer", env={"SPROCKET_SSE_KEEPALIVE": "0.2"})

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def connection(hello: Server) -> Iterator[Connection]:
    conn = Connection(hello.port)
    yield conn
    conn.close()


CASES = [
    ("POST", "/predictions", b'{"input": {"text": "framing"}}', {}, 200),
    ("POST", "/predictions", b"", {}, 200),  # text has a default
    ("POST", "/predictions", b'{"input": {"text": 5}}', {}, 422),
    ("POST", "/predictions", b'{"input": {"nope": 1}}', {}, 200),  # unknown inputs are ignored, as by Cog
    ("POST", "/predictions", b"{not json", {}, 400),
    ("POST", "/predictions", b'{"input": {}, "webhook": "ftp://example"}', {}, 422),
    ("PUT", "/predictions/same-id", b'{"id": "other-id", "input": {}}', {}, 422),
    ("POST", "/predictions", b'{"input": {"text": "later"}}', {"Prefer": "respond-async"}, 202),
    ("POST", "/trainings", b'{"input": {}}', {}, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), CASES)
def test_a_body_sent_with_content_length_or_chunked_gets_the_same_answer(
    hello: Server, method: str, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    answers = []
    for chunked in (False, True):
        hello.wait_for_status("READY")  # a respond-async prediction may still be running
        conn = Connection(hello.port)
        try:
            conn.send(request(method, path, body, headers, chunked=chunked))
            code, response_headers, payload = conn.response()
        finally:
            conn.close()
        answers.append((code, response_headers["content-type"], stable(payload)))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (status, "application/json")


def stream(
    server: Server,
    body: bytes,
    chunked: bool = False,
    path: str = "/predictions",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    conn = Connection(server.port)
    try:
        conn.send(request(method, path, body, {**SSE, **(headers or {})}, chunked=chunked))
        status, response_headers, payload = conn.response()
    finally:
        conn.close()
    assert status == 200
    return response_headers, events_of(payload)


def test_an_event_stream_carries_start_outputs_logs_and_completed(streamer: Server) -> None:
    headers, events = stream(streamer, b'{"input": {"count": 3}}')
    assert [headers[name] for name in ("content-type", "cache-control", "x-accel-buffering")] == [
        "text/event-stream",
        "no-cache",
        "no",
    ]
    assert [name for name, _ in events if name != "log"] == ["start", "output", "output", "output", "completed"]
    assert [data for name, data in events if name == "output"] == [{"chunk": f"t{i} ", "index": i} for i in range(3)]
    assert events[-1][1]["output"] == ["t0 ", "t1 ", "t2 "]


def test_a_quiet_event_stream_gets_keep_alive_comments(streamer: Server) -> None:
    _, events = stream(streamer, b'{"input": {"count": 2, "pause": 0.7}}', chunked=True)
    assert ("comment", ": keep-alive") in events
    assert [name for name, _ in events if name not in ("log", "comment")] == ["start", "output", "output", "completed"]


def test_after_an_event_stream_the_connection_serves_the_next_request(streamer: Server) -> None:
    conn = Connection(streamer.port)
    try:
        for count in (2, 1):
            body = json.dumps({"input": {"count": count}}).encode()
            conn.send(request("PUT", f"/predictions/keep-{count}", body, SSE))
            status, _, payload = conn.response()
            assert (status, events_of(payload)[-1][1]["output"]) == (200, [f"t{i} " for i in range(count)])
        conn.send(request("POST", "/predictions", b'{"input": {"count": 2}}'))
        status, _, body = conn.response()
        assert (status, json.loads(body)["output"]) == (200, ["t0 ", "t1 "])
    finally:
        conn.close()
    streamer.wait_for_log("PUT /predictions/keep-2 200")  # its access line, once the stream ended


def test_an_invalid_event_stream_request_gets_a_json_reply(streamer: Server) -> None:
    conn = Connection(streamer.port)
    try:
        conn.send(request("POST", "/predictions", b'{"input": {"count": "many"}}', SSE))
        status, headers, body = conn.response()
    finally:
        conn.close()
    assert (status, headers["content-type"]) == (422, "application/json")
    assert json.loads(body)["detail"][0]["loc"] == ["body", "input", "count"]


def test_a_content_length_of_thousands_of_digits_is_a_4xx(hello: Server, connection: Connection) -> None:
    connection.send(b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}")
    status = connection.status_or_close()
    assert status is not None and 400 <= status < 500
    assert hello.get("/health-check").json()["status"] == "READY"


def test_a_last_event_id_that_is_no_event_id_replays_from_the_start(streamer: Server) -> None:
    for value in ("9" * 5000, "-3", "abc"):
        _, events = stream(streamer, b'{"input": {"count": 1}}', headers={"Last-Event-ID": value})
        assert [name for name, _ in events if name != "log"] == ["start", "output", "completed"], value


def test_one_connection_serves_every_route_in_turn(connection: Connection) -> None:
    connection.send(request("POST", "/predictions", b'{"input": {"text": "one"}}'))
    assert connection.response()[0] == 200
    connection.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, _, body = connection.response()
    assert (status, json.loads(body)["predictions_url"]) == (200, "/predictions")
    connection.send(b"GET /health-check HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, headers, body = connection.response()
    assert (status, headers["content-type"], json.loads(body)["status"]) == (200, "application/json", "READY")
    connection.send(request("POST", "/predictions", b'{"input": {"text": "two"}}'))
    status, _, body = connection.response()
    assert (status, json.loads(body)["output"]) == (200, "hello two")


def test_pipelined_requests_are_answered_in_order(connection: Connection) -> None:
    connection.send(
        b"".join(
            request("PUT", f"/predictions/pipe-{i}", json.dumps({"input": {"text": str(i)}}).encode()) for i in range(3)
        )
    )
    answers = [connection.response() for _ in range(3)]
    assert [(status, json.loads(body)["id"], json.loads(body)["output"]) for status, _, body in answers] == [
        (200, f"pipe-{i}", f"hello {i}") for i in range(3)
    ]


def test_a_long_pipelined_run_of_refusals_is_answered_in_full(gated: Server, tmp_path: Path) -> None:
    with GatedPrediction(gated, tmp_path):
        conn = Connection(gated.port)
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


def test_an_access_line_is_logged_for_each_request(hello: Server, connection: Connection) -> None:
    connection.send(request("PUT", "/predictions/logged-here", b'{"input": {"text": "x"}}'))
    assert connection.response()[0] == 200
    hello.wait_for_log("PUT /predictions/logged-here 200")


def test_busy_is_409_whether_or_not_the_body_has_arrived(gated: Server, tmp_path: Path) -> None:
    body = b'{"input": {"entered": "x", "release": "y"}}'
    with GatedPrediction(gated, tmp_path):
        whole = Connection(gated.port)
        whole.send(request("POST", "/predictions", body))
        assert whole.response()[0] == 409
        # Only the head and half the body: refused before the rest is sent.
        partial = Connection(gated.port)
        partial.send(request("POST", "/predictions", body)[: -len(body) // 2])
        status, _, payload = partial.response()
        assert (status, json.loads(payload)) == (409, {"detail": "Already running a prediction"})
        whole.close()
        partial.close()


def test_unknown_routes_and_methods_are_json_404_and_405(hello: Server) -> None:
    missing = hello.get("/no/such/route")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = hello.get("/predictions")
    assert (wrong.status_code, wrong.json(), wrong.headers["Allow"]) == (405, {"detail": "Method Not Allowed"}, "POST")
    cancel = hello.get("/predictions/abc/cancel")
    assert (cancel.status_code, cancel.headers["Allow"]) == (405, "POST")
