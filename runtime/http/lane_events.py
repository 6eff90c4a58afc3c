"""A prediction's server-sent events on a fast-lane connection.

The same events, in the same frames, as runtime.http.sse.stream_events writes through aiohttp,
with HTTP/1.1 chunked framing written here. Events are written from the loop as they are
published, with no task per stream: those published in one pass of the loop (a batch of chunks
from the worker) go out in one write.

A client that reads slowly leaves the events in the transport's buffer: at most the
prediction's own events, which the prediction holds anyway.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from runtime.http.prediction import Prediction
from runtime.http.sse import KEEP_ALIVE, Event, EventStream, Truncated, frame, truncation_frame

_END = b"0\r\n\r\n"


def response_head(date: str) -> bytes:
    return ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\nDate: {date}\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class LaneEventWriter:
    """Writes one prediction's events after `after` until `completed`, then calls `on_end` with
    the number of bytes written. `abort` stops it early (the client hung up); the prediction goes on."""

    def __init__(self, transport: asyncio.Transport, prediction: Prediction, events: EventStream,
                 keep_alive: float, on_end: Callable[[int], None]) -> None:
        self._transport = transport
        self._keep_alive_after = keep_alive
        self._prediction = prediction
        self._events = events
        self._on_end = on_end
        self._pending: list[Event] = []
        self._loop = asyncio.get_running_loop()
        self._flush_scheduled = False
        self._last_write = 0.0
        self._keep_alive: asyncio.TimerHandle | None = None
        self._written = 0
        self._open = False

    def start(self, head: bytes, after: int) -> None:
        self._prediction.hold()
        self._open = True
        try:
            replay = self._events.subscribe(after, self._deliver)
        except Truncated as error:
            self._write(head + _chunk(truncation_frame(after, error)))
            self._end()
            return
        self._pending.extend(replay)
        self._flush(head)
        if self._open:
            self._keep_alive = self._loop.call_later(self._keep_alive_after, self._keep_quiet_stream_open)

    def abort(self) -> None:
        if self._open:
            self._close()

    def _deliver(self, event: Event) -> None:
        self._pending.append(event)
        if self._flush_scheduled:
            return
        if len(self._pending) == 1 and not self._transport.get_write_buffer_size():
            # The first event of a burst goes out now, before the rest of the burst is handled;
            # the ones that follow it in this pass of the loop go out together.
            self._flush()
        self._flush_scheduled = True
        self._loop.call_soon(self._flush)

    def _flush(self, head: bytes = b"") -> None:
        """Write the pending events in one chunk, after `head` if given."""
        self._flush_scheduled = False
        if not self._open or not (self._pending or head):
            return
        events, self._pending = self._pending, []
        completed = next((i for i, event in enumerate(events) if event[1] == "completed"), None)
        if completed is not None:
            events = events[:completed + 1]
        self._write(head + (_chunk(b"".join(frame(event) for event in events)) if events else b""))
        if completed is not None:
            self._end()

    def _keep_quiet_stream_open(self) -> None:
        quiet_for = time.monotonic() - self._last_write
        if quiet_for >= self._keep_alive_after:
            self._write(_chunk(KEEP_ALIVE))
            quiet_for = 0.0
        self._keep_alive = self._loop.call_later(self._keep_alive_after - quiet_for, self._keep_quiet_stream_open)

    def _write(self, data: bytes) -> None:
        self._transport.write(data)
        self._written += len(data)
        self._last_write = time.monotonic()

    def _end(self) -> None:
        self._write(_END)
        self._close()
        self._on_end(self._written)

    def _close(self) -> None:
        self._open = False
        self._events.unsubscribe(self._deliver)
        if self._keep_alive is not None:
            self._keep_alive.cancel()
        self._prediction.release()
