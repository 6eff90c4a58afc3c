"""The fast lane: the hot path's HTTP/1.1, in front of aiohttp.

Every connection starts here. A request to create a prediction or training with a JSON body
(`POST /predictions`, `PUT /predictions/{id}`, and the same for trainings), synchronous,
`Prefer: respond-async` or `Accept: text/event-stream`, is served by this protocol directly,
with the code the aiohttp routes use (runtime.http.creation); a synchronous one is answered from
its prediction's `completed` event, an event stream by runtime.http.lane_events. So is
`GET /health-check`, so that a client polling it between predictions keeps the lane. For a noop
prediction, aiohttp's request and response machinery cost about as much as all the rest of the
front's work; for an event stream, it delayed the prediction's start several times longer than
this lane does.

Anything else (another route, a chunked or `Expect` body, `Connection: close`, a
malformed request, HTTP/1.0, a head or body over the limits) is handed to aiohttp with the
connection and every byte received so far, and aiohttp keeps the connection from then on. So this
lane only ever recognises the common case; every corner of HTTP stays aiohttp's.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, cast

import msgspec
from multidict import CIMultiDict

from runtime.http.access_log import log_access
from runtime.http.creation import Reply, begin_now, busy_reply, error_reply, wants_events
from runtime.http.health import health_report
from runtime.http.lane_events import LaneEventWriter, response_head
from runtime.http.prediction import EventKind, Prediction
from runtime.http.sse import last_event_id
from runtime.http.service import PredictionService
from runtime.supervisor.monitor import Monitor

log = logging.getLogger("sprocket.http")

_MAX_HEAD = 16384  # longer heads go to aiohttp, which answers them properly
_REQUEST_LINE = re.compile(
    rb"(?:(?P<post>POST) /(?P<post_kind>predictions|trainings)"
    rb"|(?P<put>PUT) /(?P<put_kind>predictions|trainings)/(?P<id>[A-Za-z0-9._~-]{1,256})"
    rb"|(?P<health>GET /health-check)) HTTP/1\.1")
_HEADER_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers that ask for something only aiohttp does.
_DECLINED = ("Transfer-Encoding", "Expect", "Content-Encoding", "Upgrade")


@dataclass(slots=True)  # not frozen: that makes each construction several times slower
class Head:
    """A request this lane serves: a prediction or training to create, or a health check."""

    method: str
    path: str
    prediction_id: str | None
    train: bool
    headers: CIMultiDict[str]
    content_length: int


def parse_head(head: bytes) -> Head | None:
    """The request line and headers (without the blank line), or None unless this lane serves it."""
    request_line, _, header_block = head.partition(b"\r\n")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        return None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_block.split(b"\r\n") if header_block else ():
        name, colon, value = line.partition(b":")
        if not colon or _HEADER_NAME.fullmatch(name) is None:  # also a folded line (leading space)
            return None
        headers.add(name.decode("ascii"), value.strip(b" \t").decode("utf-8", "surrogateescape"))
    if any(name in headers for name in _DECLINED):
        return None
    if headers.get("Connection", "keep-alive").lower() != "keep-alive":
        return None
    lengths = headers.getall("Content-Length", ["0"])
    # "１" is a digit to str; aiohttp answers lengths it cannot take (and int() refuses 4300+ digits).
    if len(lengths) != 1 or not (lengths[0].isascii() and lengths[0].isdigit()) or len(lengths[0]) > 18:
        return None
    path = request_line.split(b" ")[1].decode()
    if match["health"]:
        return Head(method="GET", path=path, prediction_id=None, train=False, headers=headers,
                    content_length=int(lengths[0]))
    kind = (match["post_kind"] or match["put_kind"]).decode()
    return Head(method="POST" if match["post"] else "PUT", path=path,
                prediction_id=match["id"].decode() if match["id"] else None, train=kind == "trainings",
                headers=headers, content_length=int(lengths[0]))


class _HttpDate:
    """The Date header's value, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second, self._value = now, email.utils.formatdate(now, usegmt=True)
        return self._value


_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}" for status in http.HTTPStatus}


def encode_reply(reply: Reply, date: str) -> bytes:
    body = msgspec.json.encode(reply.body)
    lines = [_STATUS_LINES[reply.status], "Content-Type: application/json", f"Content-Length: {len(body)}",
             f"Date: {date}"]
    lines += [f"{name}: {value}" for name, value in (reply.headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _internal_error(head: Head) -> Reply:
    log.exception("%s %s failed", head.method, head.path)
    return error_reply(500, "Internal server error; the server log has the details")


class FastLanes:
    """The protocol factory for the listening socket, and what its connections share."""

    def __init__(self, service: PredictionService, monitor: Monitor, aiohttp_handler: Callable[[], asyncio.Protocol],
                 access_log: logging.Logger, keepalive_timeout: float) -> None:
        self.service = service
        self.monitor = monitor
        self.aiohttp_handler = aiohttp_handler
        self.access_log = access_log
        self.keepalive_timeout = keepalive_timeout
        self.date = _HttpDate()
        self.connections: set[FastLane] = set()
        self.closing = False

    def __call__(self) -> FastLane:
        return FastLane(self)

    def close(self) -> None:
        """Close idle connections now, the others once their reply is written."""
        self.closing = True
        for connection in list(self.connections):
            connection.close_when_idle()


class FastLane(asyncio.Protocol):
    """One connection, while it stays in the fast lane. One request at a time: a pipelined one
    waits in the buffer until the one before it is answered. A synchronous prediction is
    answered from its `completed` event, without a task waiting for it."""

    def __init__(self, lanes: FastLanes) -> None:
        self._lanes = lanes
        self._transport: asyncio.Transport | None = None
        self._remote = "-"
        self._buffer = bytearray()
        self._head: tuple[Head, int] | None = None  # parsed, waiting for the rest of its body
        self._request: Head | None = None  # being served
        self._started = 0.0
        self._beginning: asyncio.Task[None] | None = None
        self._waiting_for: Prediction | None = None
        self._event_writer: LaneEventWriter | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._handed_off = False

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple) else "-"
        self._lanes.connections.add(self)
        self._wait_idle()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._take_request()

    def connection_lost(self, exc: Exception | None) -> None:
        # As aiohttp's handler_cancellation: a client that hangs up cancels its prediction.
        self._lanes.connections.discard(self)
        self._stop_idle_timer()
        if self._beginning is not None:
            self._beginning.cancel()
        if self._waiting_for is not None:
            self._lanes.service.cancel(self._waiting_for.id)
            self._stop_waiting()
        if self._event_writer is not None:  # an event stream's client may come back for the rest
            self._event_writer.abort()
            self._event_writer = None

    # ------------------------------------------------------------ requests

    def _take_request(self) -> None:
        if self._request is not None or self._handed_off:
            return
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    self._hand_off()
                return
            head = parse_head(bytes(self._buffer[:end]))
            if head is None or head.content_length > self._lanes.service.config.max_body_bytes:
                self._hand_off()
                return
            self._head = (head, end + 4)
        head, body_start = self._head
        body_end = body_start + head.content_length
        if len(self._buffer) < body_end:
            if head.method != "GET" and busy_reply(self._lanes.service, head.prediction_id) is not None:
                self._hand_off()  # aiohttp says 409 without waiting for the body, and drains it
            return
        body = bytes(self._buffer[body_start:body_end])
        del self._buffer[:body_end]
        self._head = None
        self._stop_idle_timer()
        self._request, self._started = head, time.perf_counter()
        if head.method == "GET":
            self._answer(Reply(200, health_report(self._lanes.service.supervisor, self._lanes.monitor)))
            return
        reply = busy_reply(self._lanes.service, head.prediction_id)
        if reply is not None:
            self._answer(reply)
            return
        try:
            outcome = begin_now(self._lanes.service, body, head.headers, head.prediction_id, head.train)
        except Exception:
            outcome = _internal_error(head)
        if isinstance(outcome, (Reply, Prediction)):
            self._begun(outcome)
        else:
            self._beginning = asyncio.get_running_loop().create_task(self._begin_later(head, outcome))

    async def _begin_later(self, head: Head, starting: Coroutine[Any, Any, Reply | Prediction]) -> None:
        try:
            outcome = await starting
        except Exception:
            outcome = _internal_error(head)
        self._beginning = None
        self._begun(outcome)

    def _begun(self, outcome: Reply | Prediction) -> None:
        assert self._request is not None
        if isinstance(outcome, Reply):
            self._answer(outcome)
        elif wants_events(self._request.headers):
            self._stream_events(outcome)
        elif outcome.finished.is_set():
            self._answer(Reply(200, outcome.as_json()))
        else:
            self._waiting_for = outcome
            outcome.hold()
            outcome.watch(self._on_prediction_event, first=True)

    def _on_prediction_event(self, kind: EventKind, data: Any) -> None:
        if kind == "completed" and self._waiting_for is not None:
            # The reply first: letting go of the prediction sets off its clean-up.
            self._answer(Reply(200, self._waiting_for.as_json()))
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        prediction, self._waiting_for = self._waiting_for, None
        assert prediction is not None
        prediction.unwatch(self._on_prediction_event)
        prediction.release()

    def _stream_events(self, prediction: Prediction) -> None:
        assert self._transport is not None and self._request is not None
        events = self._lanes.service.events_for(prediction)
        self._event_writer = LaneEventWriter(self._transport, prediction, events,
                                             self._lanes.service.config.sse_keepalive, self._streamed)
        self._event_writer.start(response_head(self._lanes.date()), last_event_id(self._request.headers))

    def _streamed(self, written: int) -> None:
        self._event_writer = None
        self._finish(200, written)

    def _answer(self, reply: Reply) -> None:
        assert self._transport is not None
        response = encode_reply(reply, self._lanes.date())
        self._transport.write(response)
        self._finish(reply.status, len(response))

    def _finish(self, status: int, written: int) -> None:
        """Log the request just answered, then go on to the next one."""
        request, self._request = self._request, None
        assert self._transport is not None and request is not None
        log_access(self._lanes.access_log, request.method, request.path, status,
                   time.perf_counter() - self._started, written, self._remote)
        if self._lanes.closing:
            self._transport.close()
        elif self._buffer:  # a pipelined request; from the loop, so a long run of them cannot recurse
            asyncio.get_running_loop().call_soon(self._take_request)
        else:
            self._wait_idle()

    def _hand_off(self) -> None:
        """From now on aiohttp serves this connection, starting with what was received."""
        assert self._transport is not None
        self._handed_off = True
        self._lanes.connections.discard(self)
        self._stop_idle_timer()
        handler = self._lanes.aiohttp_handler()
        self._transport.set_protocol(handler)
        handler.connection_made(self._transport)
        if self._buffer:
            handler.data_received(bytes(self._buffer))
        self._buffer.clear()

    # ------------------------------------------------------------ idle connections

    def close_when_idle(self) -> None:
        if self._request is None and self._transport is not None:
            self._transport.close()

    def _wait_idle(self) -> None:
        self._idle_timer = asyncio.get_running_loop().call_later(self._lanes.keepalive_timeout, self.close_when_idle)

    def _stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
