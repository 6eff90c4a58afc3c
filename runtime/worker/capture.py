"""Capture everything written to file descriptors 1 and 2, Python's and C code's alike.

fd 1 and fd 2 are replaced by pipes. A reader thread forwards what arrives, tagged with the
current `owner` (a prediction id, or None for import/setup/idle). `drain()` guarantees that every
byte written before it was called has been delivered, so a prediction's result is sent only after
all of its logs: it reads the pipes itself under the same lock the reader thread reads under, so
no byte can be in flight in the thread while the result goes out.
"""

from __future__ import annotations

import codecs
import contextvars
import fcntl
import os
import select
import selectors
import sys
import threading
from typing import Callable, Literal, TextIO

Stream = Literal["stdout", "stderr"]
Deliver = Callable[[str | None, Stream, str], None]
# Whose output it is: a prediction, the members of a batch (each gets it all), or nobody's.
Owner = str | tuple[str, ...] | None

# The prediction the running code belongs to, for predictors running several at once, where
# "whoever is running now" no longer identifies the writer of a byte on fd 1.
current_prediction: contextvars.ContextVar[str | None] = contextvars.ContextVar("prediction", default=None)

_READ_SIZE = 256 * 1024
# A larger pipe means a chatty predictor blocks less often while the reader catches up.
_PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031


class _Pipe:
    def __init__(self, target_fd: int, stream: Stream) -> None:
        self.stream = stream
        self.read_fd, write_fd = os.pipe()
        try:
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # capped by /proc/sys/fs/pipe-max-size; the default size still works
        os.set_blocking(self.read_fd, False)
        os.dup2(write_fd, target_fd)
        os.close(write_fd)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read_available(self) -> str:
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(self.read_fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return self.decoder.decode(b"".join(chunks)) if chunks else ""


class OutputCapture:
    """Owns fd 1 and 2 of this process once `start()` has run.

    Returns the original stderr as a writable file, for the worker's own diagnostics.
    """

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._readable = select.poll()
        self.owner: Owner = None

    def start(self) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        original_stderr = os.dup(2)
        self._pipes = [_Pipe(1, "stdout"), _Pipe(2, "stderr")]
        for pipe in self._pipes:
            self._readable.register(pipe.read_fd, select.POLLIN)
        # fd 1 is a pipe now, so Python would buffer whole blocks: keep lines timely.
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        threading.Thread(target=self._forward_forever, name="output-capture", daemon=True).start()
        return original_stderr

    def drain(self) -> None:
        """Deliver everything written so far, under the current owner."""
        sys.stdout.flush()
        sys.stderr.flush()
        with self._lock:
            # One poll instead of a read per pipe: drain runs twice per prediction, usually
            # with nothing to read.
            ready = {fd for fd, _ in self._readable.poll(0)}
            for pipe in self._pipes:
                if pipe.read_fd in ready:
                    self._forward(pipe)

    def _forward(self, pipe: _Pipe) -> None:
        text = pipe.read_available()
        if text:
            for owner in self.owner if isinstance(self.owner, tuple) else (self.owner,):
                self._deliver(owner, pipe.stream, text)

    def _forward_forever(self) -> None:
        selector = selectors.DefaultSelector()
        for pipe in self._pipes:
            selector.register(pipe.read_fd, selectors.EVENT_READ, pipe)
        while True:
            for key, _ in selector.select():
                with self._lock:
                    self._forward(key.data)


class PredictionStream:
    """Stands in for sys.stdout or sys.stderr when predictions run concurrently: text written
    inside a prediction's task goes straight to that prediction's logs; anything else (and all
    writes to fd 1/2 from C code) to the underlying stream, logged by the front as the worker's.
    """

    def __init__(self, underlying: TextIO, stream: Stream, deliver: Deliver) -> None:
        self._underlying = underlying
        self._stream = stream
        self._deliver = deliver

    def write(self, text: str) -> int:
        prediction_id = current_prediction.get()
        if prediction_id is None:
            return self._underlying.write(text)
        if text:
            self._deliver(prediction_id, self._stream, text)
        return len(text)

    def flush(self) -> None:
        self._underlying.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._underlying, name)


def route_by_prediction(deliver: Deliver) -> None:
    sys.stdout = PredictionStream(sys.stdout, "stdout", deliver)
    sys.stderr = PredictionStream(sys.stderr, "stderr", deliver)
