"""Everything the worker sends to the front goes through one Outbox, which batches output chunks.

An iterator that yields a thousand tokens in a millisecond would otherwise send a thousand
messages, and on a small machine the front would spend the time the first token needs on
reading the rest. So a prediction's chunk goes out at once when its previous chunks went out at
least `interval` ago; chunks that come faster are held and sent together, `interval` after the
last send, by the next chunk or by a flusher thread (a predictor that yields and then computes
for a minute does not hold its chunk for that minute: it goes within the interval, plus the time
the flusher needs to get the GIL). A language model's tokens, tens of milliseconds apart, each
go out at once.

Order is kept: any other message (a log line, a result) first sends the chunks held before it.
Each chunk is encoded when it is yielded, so a value msgpack cannot carry fails the prediction
there, as it would unbatched, and not a later batch.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

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


class _Stream:
    __slots__ = ("last_sent", "held")

    def __init__(self) -> None:
        self.last_sent = float("-inf")
        self.held: list[Any] = []


class Outbox:
    """Thread-safe: the runner, the log capture and the healthcheck thread all send through it."""

    def __init__(self, send: Callable[[EventMessage], None], interval: float = DEFAULT_INTERVAL) -> None:
        self._send = send
        self._interval = interval
        self._streams: dict[str, _Stream] = {}
        self._holding = 0  # how many streams hold chunks
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._closed = False

    def send(self, message: EventMessage) -> None:
        with self._lock:
            if self._holding:
                self._flush_all()
            if isinstance(message, _TERMINAL):
                self._streams.pop(message.prediction_id, None)
            self._send(message)

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
                self._flush(prediction_id, stream, now, held)
            elif not held:
                self._holding += 1
                self._start_flusher()
                self._wake.notify()

    def _flush(self, prediction_id: str, stream: _Stream, now: float, counted: bool = True) -> None:
        if counted:
            self._holding -= 1
        values, stream.held = stream.held, []
        stream.last_sent = now
        self._send(OutputChunks(prediction_id=prediction_id, values=values))

    def _flush_all(self) -> None:
        now = time.perf_counter()
        for prediction_id, stream in self._streams.items():
            if stream.held:
                self._flush(prediction_id, stream, now)

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_when_due, name="outbox-flusher", daemon=True)
            self._flusher.start()

    def close(self) -> None:
        """Send what is held and stop the flusher thread; call before the channel closes."""
        with self._lock:
            self._closed = True
            if self._holding:
                self._flush_all()
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
                        self._flush(prediction_id, stream, now)
