"""Malformed, smuggling, oversized and pipelined requests get what aiohttp itself answers.

aiohttp parses every request Sprocket serves. These tests hold it to that: each hostile request
goes to the real server and to a bare aiohttp application in this process (same aiohttp, same
routes, no Sprocket code), and the answers must match. A client that pipelines requests and never
reads the replies must not make the front run them all or hold their replies in memory.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from typing import Iterator

import psutil
import pytest
from aiohttp import web

from tests.conftest import module_server
from tests.support import Server, wait_until
from tests.wire import Connection

hello = module_server("hello")
big = module_server("big_output")

BODY = b'{"input": {"text": "world"}}'
SMUGGLED = b'POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n{"input": {"text": "SMUGGLED"}}'


class BareAiohttp:
    """aiohttp alone, in a thread: the routes Sprocket has, each answering 200 once the body is read."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)
        self._thread.start()
        assert self._started.wait(10), "the bare aiohttp server did not start"

    async def _serve(self) -> None:
        async def answer(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/predictions", answer)
        app.router.add_put("/predictions/{prediction_id}", answer)
        app.router.add_get("/health-check", answer)
        runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._stop = asyncio.Event()
        self._started.set()
        await self._stop.wait()
        await runner.cleanup()

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def bare() -> Iterator[BareAiohttp]:
    server = BareAiohttp()
    yield server
    server.close()


def _head(lines: list[bytes], body: bytes = BODY) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _post(*headers: bytes, body: bytes = BODY) -> bytes:
    return _head([b"POST /predictions HTTP/1.1", *headers], body)


def _length(body: bytes = BODY) -> bytes:
    return b"Content-Length: %d" % len(body)


CASES: dict[str, bytes] = {
    "well-formed": _post(b"Host: x", _length()),
    "bare LF hides a Content-Length in a header value": _post(
        b"Host: x\nContent-Length: %d" % len(SMUGGLED), body=SMUGGLED
    ),
    "bare LF line endings throughout": (b"POST /predictions HTTP/1.1\nHost: x\n" + _length() + b"\n\n" + BODY),
    "bare CR inside a header value": _post(b"Host: x", b"X-Note: a\rb", _length()),
    "NUL in a header value": _post(b"Host: x", b"traceparent: 00-\x00-01", _length()),
    "CR in traceparent": _post(b"Host: x", b"traceparent: 00-abc\r-01", _length()),
    "DEL in traceparent": _post(b"Host: x", b"traceparent: 00-abc\x7f-01", _length()),
    "control byte in a header name": _post(b"Host: x", b"X-Bad\x01Name: 1", _length()),
    "space before the colon": _post(b"Host: x", b"Content-Length : %d" % len(BODY)),
    "folded header line": _post(b"Host: x", b"X-Folded: a", b"  b", _length()),
    "header line over 8190 bytes": _post(b"Host: x", b"X-Big: " + b"a" * 9000, _length()),
    "head over 8190 bytes in many lines": _post(
        b"Host: x", *[b"X-H%d: %s" % (i, b"a" * 100) for i in range(90)], _length()
    ),
    "200 headers": _post(b"Host: x", *[b"X-H%d: 1" % i for i in range(200)], _length()),
    "no Host": _post(_length()),
    "two Host headers": _post(b"Host: x", b"Host: y", _length()),
    "two different Content-Lengths": _post(b"Host: x", _length(), b"Content-Length: 5"),
    "Content-Length and chunked": _post(
        b"Host: x", _length(), b"Transfer-Encoding: chunked", body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    ),
    "negative Content-Length": _post(b"Host: x", b"Content-Length: -5"),
    "non-digit Content-Length": _post(b"Host: x", "Content-Length: \uff12\uff18".encode()),
    "thousands of digits in Content-Length": _post(b"Host: x", b"Content-Length: " + b"9" * 5000),
    "chunk size that is not hex": _post(b"Host: x", b"Transfer-Encoding: chunked", body=b"zz\r\n{}\r\n0\r\n\r\n"),
    "chunked, then a pipelined request": _post(
        b"Host: x",
        b"Transfer-Encoding: chunked",
        body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY) + _post(b"Host: x", _length()),
    ),
    "unknown Transfer-Encoding": _post(
        b"Host: x", b"Transfer-Encoding: gzip, chunked", body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    ),
    "HTTP/1.0": _head([b"POST /predictions HTTP/1.0", b"Host: x", _length()]),
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    "absolute-form target": _head([b"POST http://x/predictions HTTP/1.1", b"Host: x", _length()]),
    "NUL in the path": _head([b"PUT /predictions/a\x00b HTTP/1.1", b"Host: x", _length()]),
}


def _answers(port: int, raw: bytes) -> list[int | None]:
    """The status of every response to `raw`, in order; None where the server closed instead."""
    conn = Connection(port, timeout=5)
    try:
        conn.send(raw)
        statuses: list[int | None] = []
        while True:
            try:
                status, headers, body = conn.response()
            except (ConnectionError, OSError):
                return statuses or [None]
            assert b"SMUGGLED" not in body, f"a smuggled request ran: {body[:200]!r}"
            statuses.append(status)
            if headers.get("connection", "").lower() == "close":
                return statuses
            conn.sock.settimeout(0.2)  # the next response, if the server sends one, comes at once
    finally:
        conn.close()


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_request_gets_what_aiohttp_answers(hello: Server, bare: BareAiohttp, case: str) -> None:
    ran_before = _predictions_run(hello)
    sprocket = _answers(hello.port, CASES[case])
    reference = _answers(bare.port, CASES[case])
    assert sprocket == reference, f"{case}: Sprocket answered {sprocket}, bare aiohttp {reference}"
    assert all(status is None or status < 500 for status in sprocket)
    # Only what aiohttp took for a whole prediction request ran: one at most, never a smuggled one.
    assert _predictions_run(hello) - ran_before == sum(status == 200 for status in sprocket)
    assert hello.status() == "READY"


def _predictions_run(server: Server) -> int:
    text = server.get("/metrics").text
    return int(sum(float(v) for v in re.findall(r'^sprocket_predictions_total\{status="\w+"\} (\S+)$', text, re.M)))


def test_a_client_that_pipelines_and_never_reads_cannot_make_the_front_run_everything(big: Server) -> None:
    """300 pipelined requests, each answered with 1 MiB, from a client whose receive buffer is 4 KiB
    and who never reads: aiohttp stops taking requests once its replies back up."""
    front = psutil.Process(big.process.pid)
    rss_before = front.memory_info().rss
    ran_before = _predictions_run(big)
    padded = b'{"input": {}, "pad": "' + b"p" * 25_000 + b'"}'  # 25 kB; unknown keys are ignored
    one = _post(b"Host: x", _length(padded), body=padded)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", big.port))
    sock.setblocking(False)
    pending = one * 300
    deadline = time.monotonic() + 20
    progressed = time.monotonic()
    try:
        # Send until the server stops taking bytes for a second (it has stopped reading) or all is sent.
        while pending and time.monotonic() < min(deadline, progressed + 1):
            try:
                pending = pending[sock.send(pending) :]
                progressed = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)

        def settled() -> int | None:
            before = _predictions_run(big)
            time.sleep(0.5)
            after = _predictions_run(big)
            return after if after == before else None

        ran = wait_until(settled, 15, "predictions to stop starting") - ran_before
        grown = front.memory_info().rss - rss_before
        assert ran <= 10, f"the front ran {ran} of the 300 requests for a client reading nothing"
        assert grown < 64 * 1024 * 1024, f"the front grew by {grown / 2**20:.0f} MiB"
    finally:
        sock.close()
    big.wait_for_status("READY")
