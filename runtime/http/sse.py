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


async def stream_events(request: web.Request, events: EventStream, after: int, keep_alive: float) -> web.StreamResponse:
    """Write the prediction's events until `completed`. A client that hangs up ends the stream,
    not the prediction."""
    queue: asyncio.Queue[Event] = asyncio.Queue()
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        # Before anything is awaited: no event may pass between starting the prediction and this.
        replay = events.subscribe(after, queue.put_nowait)
    except Truncated as error:
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
            try:
                async with asyncio.timeout(keep_alive):  # not wait_for: that makes a task per event
                    event = await queue.get()
            except TimeoutError:
                await response.write(KEEP_ALIVE)
                continue
            # Whatever else is already waiting goes out in the same write.
            frames = [event]
            while not queue.empty() and frames[-1][1] != "completed":
                frames.append(queue.get_nowait())
            await response.write(b"".join(frame(each) for each in frames))
            if frames[-1][1] == "completed":
                return response
    finally:
        events.unsubscribe(queue.put_nowait)
