"""One prediction as the HTTP API shows it: Cog's prediction object, filled in as the worker reports.

A `Prediction` is the supervisor's listener for its id. What the worker reports is applied in
order, one step at a time; a step that must encode output files (a data URI read from disk, an
upload) is awaited before the next, so logs, output items and the terminal status reach webhooks
and event streams in the order they happened. `finished` is set once the terminal status, with
its encoded output, is in place; nothing changes after that.

Whoever still needs the prediction's files (a response being written, a webhook, an event
stream) holds it; once it is finished and nobody holds it, `on_done` runs (it removes the files).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
from typing import Any, Awaitable, Callable, Literal

import msgspec

from runtime.http.files import OutputEncoder, OutputFileError, contains_file
from runtime.logbuffer import LogBuffer
from runtime.supervisor.supervisor import utc_now

EventKind = Literal["start", "output", "log", "completed"]
Watcher = Callable[[EventKind, Any], None]
Step = Callable[[], "Awaitable[None] | None"]


class PredictionRequest(msgspec.Struct, omit_defaults=True):
    """The body of POST /predictions and PUT /predictions/{id}. Unknown keys are ignored."""

    input: dict[str, Any] | None = None
    id: str | None = None
    created_at: str | None = None
    webhook: str | None = None
    webhook_events_filter: list[Literal["start", "output", "logs", "completed"]] | None = None
    output_file_prefix: str | None = None
    context: dict[str, str] | None = None


class Prediction:
    def __init__(self, prediction_id: str, request: PredictionRequest, echoed_input: dict[str, Any],
                 workdir: str, is_iterator: bool, encoder: OutputEncoder,
                 on_done: Callable[["Prediction"], None], log_limit: int) -> None:
        self.id = prediction_id
        self.request = request
        self.input = echoed_input
        self.workdir = workdir
        self.is_iterator = is_iterator
        self.status = "processing"
        self.output: Any = None
        self.logs = LogBuffer(log_limit)
        self.error: str | None = None
        self.started_at = utc_now().isoformat()
        self.completed_at: str | None = None
        self.metrics: dict[str, Any] = {}
        self.submitted_at: float | None = None  # time.monotonic() when handed to the worker
        self.finished = asyncio.Event()
        self._encoder = encoder
        self._watchers: list[Watcher] = []
        self._steps: collections.deque[Step] = collections.deque()
        self._stepping = False
        self._holds = 0
        self._done = False
        self._on_done = on_done

    # ------------------------------------------------------------ who still needs it

    def hold(self) -> None:
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        self._done_if_unheld()

    def _done_if_unheld(self) -> None:
        """Call on_done, once, when the prediction has ended and nobody holds it."""
        if self._holds == 0 and self.finished.is_set() and not self._done:
            self._done = True
            self._on_done(self)

    def watch(self, watcher: Watcher, first: bool = False) -> None:
        """Call `watcher` with each event from now on; `first` puts it ahead of the others (a
        client waiting for the reply, which bookkeeping should not delay)."""
        if first:
            self._watchers.insert(0, watcher)
        else:
            self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def _emit(self, kind: EventKind, data: Any = None) -> None:
        for watcher in list(self._watchers):
            watcher(kind, data)

    # ------------------------------------------------------------ ordered steps

    def _step(self, step: Step, needs_await: bool = False) -> None:
        if not self._stepping and not needs_await:
            step()
            return
        self._steps.append(step)
        if not self._stepping:
            self._stepping = True
            asyncio.ensure_future(self._run_steps())

    async def _run_steps(self) -> None:
        while self._steps:
            result = self._steps.popleft()()
            if inspect.isawaitable(result):
                await result
        self._stepping = False

    # ------------------------------------------------------------ listener

    def on_log(self, text: str, stream: str = "stdout") -> None:
        def step() -> None:
            self.logs.append(text)
            self._emit("log", (stream, text))

        self._step(step)

    def on_output_chunk(self, value: Any) -> None:
        async def encode_then_append() -> None:
            try:
                append(await self._encoder.encode(value))
            except OutputFileError as error:
                self.error = str(error)  # reported when the prediction ends

        def append(encoded: Any) -> None:
            if self.output is None:
                self.output = []
            self.output.append(encoded)
            self._emit("output", (len(self.output) - 1, encoded))

        if contains_file(value):
            self._step(encode_then_append, needs_await=True)
        else:
            self._step(lambda: append(value))

    def on_succeeded(self, output: Any, predict_time: float) -> None:
        async def encode_then_finish() -> None:
            try:
                encoded = await self._encoder.encode(output)
            except OutputFileError as error:
                self.error = str(error)
                encoded = None
            finish(encoded)

        def finish(encoded: Any) -> None:
            if self.output is None:
                # An iterator's items came as chunks; one that yielded nothing still returns a list.
                self.output = [] if self.is_iterator else encoded
            self.metrics["predict_time"] = predict_time
            self._finish("failed" if self.error else "succeeded")

        if contains_file(output):
            self._step(encode_then_finish, needs_await=True)
        else:
            self._step(lambda: finish(output))

    def on_failed(self, error: str) -> None:
        def step() -> None:
            self.error = error
            self._finish("failed")

        self._step(step)

    def on_canceled(self) -> None:
        self._step(lambda: self._finish("canceled"))

    def _finish(self, status: str) -> None:
        if self.finished.is_set():
            return
        self.status = status
        self.completed_at = utc_now().isoformat()
        self.finished.set()
        self._emit("completed")
        self._done_if_unheld()

    # ------------------------------------------------------------ response

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": None,
            "created_at": self.request.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "logs": self.logs.text(),
            "error": self.error,
            "metrics": self.metrics,
        }
