"""Server-sent events for `Accept: text/event-stream`: a prediction's `start`, `output`, `log` and
`completed` events as they happen.

Each event has an `id:`; a client that reconnects (PUT /predictions/{id} with the same Accept and
a `Last-Event-ID` header) gets what it missed from a bounded history, then the live events. If
the events it missed are no longer held, it gets an `error` event saying how many were dropped,
rather than a silent gap.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable, Mapping

import msgspec
from aiohttp import web

from runtime.http.prediction import LogLine, OutputItem, Prediction, PredictionEvent

KEEP_ALIVE = b": keep-alive\n\n"  # a comment line: clients ignore it, proxies see traffic

Event = tuple[int, str, bytes]
Deliver = Callable[[Event], None]


class Truncated(Exception):
    def __init__(self, skipped: int) -> None:
        super().__init__(f"{skipped} events dropped")
        self.skipped = skipped


def _format(seq: int, name: str, data: Any) -> Event:
    return seq, name, msgspec.json.encode(data)


class EventStream:
    """Turns one prediction's changes into numbered events, keeping the last `capacity`."""

    def __init__(self, prediction: Prediction, capacity: int) -> None:
        self._prediction = prediction
        self._history: collections.deque[Event] = collections.deque(maxlen=capacity or None)
        self._keep_history = capacity > 0
        self._subscribers: set[Deliver] = set()
        self._seq = 0
        self._publish("start", {"id": prediction.id, "status": "processing"})
        if prediction.finished.is_set():  # a client attaching after the end gets the result
            self._publish("completed", prediction.as_json())
        else:
            prediction.watch(self._on_event)

    def _on_event(self, event: PredictionEvent) -> None:
        if isinstance(event, OutputItem):
            self._publish("output", {"chunk": event.value, "index": event.index})
        elif isinstance(event, LogLine):
            self._publish("log", {"source": event.stream, "data": event.text})
        else:
            self._publish("completed", self._prediction.as_json())

    def _publish(self, name: str, data: Any) -> None:
        self._seq += 1
        event = _format(self._seq, name, data)
        if self._keep_history:
            self._history.append(event)
        for deliver in tuple(self._subscribers):  # one may unsubscribe as it takes the last event
            deliver(event)

    def subscribe(self, after: int, deliver: Deliver) -> list[Event]:
        """The events after `after` still held; `deliver` is called with each one to come."""
        if after < self._seq:
            oldest = self._history[0][0] if self._history else self._seq + 1
            if oldest > after + 1:
                raise Truncated(oldest - after - 1)
        self._subscribers.add(deliver)
        return [event for event in self._history if event[0] > after]

    def unsubscribe(self, deliver: Deliver) -> None:
        self._subscribers.discard(deliver)


def frame(event: Event) -> bytes:
    seq, name, data = event
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, name.encode(), data)


def truncation_frame(after: int, error: Truncated) -> bytes:
    return frame(
        (
            after,
            "error",
            msgspec.json.encode(
                {"error": "SSE stream replay truncated; events were dropped", "skipped": error.skipped}
            ),
        )
    )


_MAX_EVENT_ID_DIGITS = 18  # far past any stream; int() refuses 4300+ digits


def last_event_id(headers: Mapping[str, str]) -> int:
    """The event a reconnecting client last saw; 0 (from the start) for anything not an event id."""
    value = headers.get("Last-Event-ID", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= _MAX_EVENT_ID_DIGITS else 0


class _Mailbox:
    """The events waiting for one stream's writer, taken all at once: however many a loop turn
    brought, they go out in one write. A keep-alive is due once the stream has been silent for
    `keep_alive` seconds; one timer per stream checks, re-armed for when the silence would be
    long enough (a timeout per event would make and cancel a timer for every token)."""

    def __init__(self, keep_alive: float) -> None:
        self._events: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._keep_alive = keep_alive
        self._last_write = self._loop.time()
        self._timer = self._loop.call_later(keep_alive, self._check_silence)

    def put(self, event: Event) -> None:
        self._events.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def take(self) -> list[Event]:
        """Everything waiting, once there is something."""
        while not self._events:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        events, self._events = self._events, []
        return events

    def written(self) -> None:
        self._last_write = self._loop.time()

    def _check_silence(self) -> None:
        silent = self._loop.time() - self._last_write
        if silent >= self._keep_alive:
            self.put(_KEEP_ALIVE_EVENT)
            silent = 0.0
        self._timer = self._loop.call_later(self._keep_alive - silent, self._check_silence)

    def close(self) -> None:
        self._timer.cancel()


_KEEP_ALIVE_EVENT: Event = (0, "", KEEP_ALIVE)


def _encoded(events: list[Event]) -> bytes:
    return b"".join(KEEP_ALIVE if event is _KEEP_ALIVE_EVENT else frame(event) for event in events)


async def stream_events(request: web.Request, events: EventStream, after: int, keep_alive: float) -> web.StreamResponse:
    """Write the prediction's events until `completed`. A client that hangs up ends the stream,
    not the prediction."""
    mailbox = _Mailbox(keep_alive)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        # Before anything is awaited: no event may pass between starting the prediction and this.
        replay = events.subscribe(after, mailbox.put)
    except Truncated as error:
        mailbox.close()
        await response.prepare(request)
        await response.write(truncation_frame(after, error))
        return response
    try:
        await response.prepare(request)
        for event in replay:
            await response.write(frame(event))
            if event[1] == "completed":
                return response
        while True:
            waiting = await mailbox.take()
            await response.write(_encoded(waiting))
            mailbox.written()
            if any(event[1] == "completed" for event in waiting):
                # Ending the response (its last chunk, the access log) waits one loop turn: the
                # other streams' events that arrived with this one go out first.
                await asyncio.sleep(0)
                return response
    finally:
        mailbox.close()
        events.unsubscribe(mailbox.put)
