"""One prediction as the HTTP API shows it: Cog's prediction object, filled in as the worker reports.

A `Prediction` is the supervisor's listener for its id. What the worker reports is applied in
order, one step at a time; a step that must encode output files (a data URI read from disk, an
upload) is awaited before the next, so logs, output items and the terminal status reach watchers
(webhooks, event streams, metrics) in the order they happened.

Nothing that goes wrong in the front may leave a prediction unfinished: a step that raises ends
the prediction `failed` with a message, and a watcher that raises is logged and skipped, so the
other watchers still hear every event. `finished` is set once the terminal status, with its
encoded output, is in place; nothing changes after that, and `on_done` runs (it frees the
prediction's directory: every file the client can get has been encoded by then).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal

import msgspec

from runtime.http.files import OutputEncoder, OutputFileError, contains_file
from runtime.logbuffer import LogBuffer
from runtime.supervisor.supervisor import utc_now

log = logging.getLogger("sprocket.http")

Step = Callable[[], "Awaitable[None] | None"]


@dataclass(frozen=True, slots=True)
class OutputItem:
    """An iterator predictor yielded its `index`th item (already encoded for the client)."""

    index: int
    value: Any


@dataclass(frozen=True, slots=True)
class LogLine:
    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True, slots=True)
class Completed:
    """The prediction reached its terminal status; read it from the prediction."""


PredictionEvent = OutputItem | LogLine | Completed
Watcher = Callable[[PredictionEvent], None]
COMPLETED = Completed()


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
    def __init__(
        self,
        prediction_id: str,
        request: PredictionRequest,
        echoed_input: dict[str, Any],
        workdir: str,
        is_iterator: bool,
        encoder: OutputEncoder,
        on_done: Callable[[Prediction], None],
        log_limit: int,
    ) -> None:
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
        self.created_at = request.created_at or self.started_at  # accepted now, unless the client says
        self.completed_at: str | None = None
        self.metrics: dict[str, Any] = {}
        self.submitted_at: float | None = None  # time.monotonic() when handed to the worker
        self.finished = asyncio.Event()
        # Synchronous clients waiting for the result (PredictionService.wait_for_end).
        self.waiters = 0
        self.cancel_when_abandoned = False
        self._encoder = encoder
        self._watchers: list[Watcher] = []
        self._steps: collections.deque[Step] = collections.deque()
        self._stepping = False
        self._on_done = on_done

    # ------------------------------------------------------------ watchers

    def watch(self, watcher: Watcher) -> None:
        """Call `watcher` with each event from now on, until it is unwatched or the prediction ends."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def _emit(self, event: PredictionEvent) -> None:
        for watcher in tuple(self._watchers):
            try:
                watcher(event)
            except Exception:
                log.exception("a watcher of the prediction failed; the others go on", extra={"prediction_id": self.id})

    # ------------------------------------------------------------ ordered steps

    def _step(self, step: Step, needs_await: bool = False) -> None:
        if not self._stepping and not needs_await:
            self._run_guarded(step)
            return
        self._steps.append(step)
        if not self._stepping:
            self._stepping = True
            asyncio.ensure_future(self._run_steps())

    def _run_guarded(self, step: Step) -> Awaitable[None] | None:
        try:
            return step()
        except Exception as error:
            self._crash(error)
            return None

    async def _run_steps(self) -> None:
        while self._steps:
            result = self._run_guarded(self._steps.popleft())
            if inspect.isawaitable(result):
                try:
                    await result
                except Exception as error:
                    self._crash(error)
        self._stepping = False

    def _crash(self, error: Exception) -> None:
        """Something in the front failed while handling this prediction: it ends failed, saying so."""
        log.exception("handling the prediction failed", exc_info=error, extra={"prediction_id": self.id})
        if not self.finished.is_set():
            self.error = f"internal error: {type(error).__name__}: {error}"
            self._finish("failed")

    # ------------------------------------------------------------ listener

    def on_log(self, text: str, stream: Literal["stdout", "stderr"] = "stdout") -> None:
        def step() -> None:
            self.logs.append(text)
            self._emit(LogLine(stream, text))

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
            self._emit(OutputItem(len(self.output) - 1, encoded))

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

    def on_metrics(self, metrics: dict[str, Any]) -> None:
        self._step(lambda: self.metrics.update(metrics))

    def on_failed(self, error: str, predict_time: float | None = None) -> None:
        def step() -> None:
            self.error = error
            if predict_time is not None:
                self.metrics["predict_time"] = predict_time
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
        self._emit(COMPLETED)
        self._watchers.clear()
        try:
            self._on_done(self)
        except Exception:
            log.exception("cleaning up after the prediction failed", extra={"prediction_id": self.id})

    # ------------------------------------------------------------ response

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": None,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "logs": self.logs.text(),
            "error": self.error,
            "metrics": self.metrics,
        }
