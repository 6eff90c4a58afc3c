"""Everything the worker sends to the front goes through one Outbox, which puts events that come
close together into one message.

Each ZeroMQ send costs the worker more than a token costs a language model's loop (it wakes
ZeroMQ's I/O thread), and each message costs the front a read and a decode. Two rules cut them:

- Output chunks of one prediction that come faster than `interval` are held and sent together.
  A prediction's chunk goes out at once when its previous chunks went out at least `interval`
  ago; chunks that come faster are held and sent `interval` after the last send, by the next
  chunk or by a flusher thread (a predictor that yields and then computes for a minute does not
  hold its chunk for that minute: it goes within the interval, plus the time the flusher needs
  to get the GIL). A language model's tokens, tens of milliseconds apart, each go out at once.
- While an event loop runs the predictions (`gather_turns`), what its callbacks send within
  `interval` of the last message is gathered until the end of the loop's turn and goes out in
  one message: sixty-four streams whose tokens a timer tick woke together leave in one send,
  not sixty-four. The first event after a quiet spell still goes at once.

Order is kept: events leave in the order they were sent, and any other message (a log line, a
result) first releases the chunks held before it. Each event is encoded when it is sent, so a
value msgpack cannot carry fails where it was yielded or returned, as it would unbatched.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

import msgspec

from runtime.ipc.messages import (
    EventMessage,
    OutputChunks,
    PredictionCanceled,
    PredictionFailed,
    PredictionSucceeded,
)
from runtime.ipc.transport import encode

DEFAULT_INTERVAL = 0.002

_TERMINAL = (PredictionSucceeded, PredictionFailed, PredictionCanceled)

Send = Callable[[list[msgspec.Raw]], None]


class Loop(Protocol):
    """What the Outbox needs of an event loop (asyncio's, without importing asyncio here)."""

    def call_soon(self, callback: Callable[[], None]) -> Any: ...


class _Stream:
    __slots__ = ("last_sent", "held")

    def __init__(self) -> None:
        self.last_sent = float("-inf")
        self.held: list[msgspec.Raw] = []


class Outbox:
    """Thread-safe: the runner, the log capture and the healthcheck thread all send through it."""

    def __init__(self, send: Send, interval: float = DEFAULT_INTERVAL) -> None:
        self._send = send
        self._interval = interval
        self._due: list[msgspec.Raw] = []  # encoded events to send, in order
        self._last_send = float("-inf")
        self._streams: dict[str, _Stream] = {}
        self._holding = 0  # how many streams hold chunks
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._loop: Loop | None = None
        self._loop_thread: int | None = None
        self._turn_ends_with_send = False

    def send(self, message: EventMessage) -> None:
        encoded = msgspec.Raw(encode(message))
        with self._lock:
            if self._holding:
                self._release_all()
            if isinstance(message, _TERMINAL):
                self._streams.pop(message.prediction_id, None)
            self._due.append(encoded)
            self._send_due()

    def send_chunk(self, prediction_id: str, value: Any) -> None:
        encoded = msgspec.Raw(encode(value))
        now = time.perf_counter()
        with self._lock:
            stream = self._streams.get(prediction_id)
            if stream is None:
                stream = self._streams[prediction_id] = _Stream()
            held = bool(stream.held)
            stream.held.append(encoded)
            if now - stream.last_sent >= self._interval:
                self._release(prediction_id, stream, now, held)
                self._send_due()
            elif not held:
                self._holding += 1
                self._start_flusher()
                self._wake.notify()

    def gather_turns(self, loop: Loop | None) -> None:
        """From now on, gather what `loop`'s callbacks send until the end of the loop's turn (see
        the module's docstring); call from the loop's thread while it runs. None: stop gathering,
        sending what was gathered."""
        with self._lock:
            self._loop = loop
            self._loop_thread = threading.get_ident() if loop is not None else None
            if loop is None:
                self._flush()

    def _release(self, prediction_id: str, stream: _Stream, now: float, counted: bool = True) -> None:
        """Make the stream's held chunks due, as one event."""
        if counted:
            self._holding -= 1
        values, stream.held = stream.held, []
        stream.last_sent = now
        self._due.append(msgspec.Raw(encode(OutputChunks(prediction_id=prediction_id, values=values))))

    def _release_all(self) -> None:
        now = time.perf_counter()
        for prediction_id, stream in self._streams.items():
            if stream.held:
                self._release(prediction_id, stream, now)

    def _send_due(self) -> None:
        """Send what is due now, or, from the gathering loop's thread within `interval` of the
        last send, at the end of the loop's turn."""
        if self._loop is not None and threading.get_ident() == self._loop_thread:
            if self._turn_ends_with_send:
                return
            if time.perf_counter() - self._last_send < self._interval:
                self._turn_ends_with_send = True
                self._loop.call_soon(self._end_turn)
                return
        self._flush()

    def _end_turn(self) -> None:
        with self._lock:
            self._turn_ends_with_send = False
            self._flush()

    def _flush(self) -> None:
        if self._due:
            events, self._due = self._due, []
            self._last_send = time.perf_counter()
            self._send(events)

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_when_due, name="outbox-flusher", daemon=True)
            self._flusher.start()

    def close(self) -> None:
        """Send what is held and stop the flusher thread; call before the channel closes."""
        with self._lock:
            self._closed = True
            if self._holding:
                self._release_all()
            self._flush()
            self._wake.notify()
        if self._flusher is not None:
            self._flusher.join()

    def _flush_when_due(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._holding:
                    self._wake.wait()
                    continue
                now = time.perf_counter()
                due = min(s.last_sent for s in self._streams.values() if s.held) + self._interval
                if now < due:
                    self._wake.wait(due - now)
                    continue
                for prediction_id, stream in self._streams.items():
                    if stream.held and stream.last_sent + self._interval <= now:
                        self._release(prediction_id, stream, now)
                self._flush()
