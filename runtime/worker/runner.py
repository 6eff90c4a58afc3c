"""Run setup() and then predict() for each Predict message, sync or async.

Invariant: every Predict the runner accepts ends in exactly one terminal event
(PredictionSucceeded, PredictionFailed or PredictionCanceled), sent after every log line the
prediction wrote. A worker that dies instead is the front's to report.

Sync predictors run in the main thread, one at a time; a cancel interrupts them with SIGUSR1,
whose handler raises CancelationException only while that prediction's predict() runs. Async
predictors run as tasks on one event loop (shared with an async setup()), up to max_concurrency
at once; a cancel cancels the task.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import signal
import threading
import time
import traceback
from typing import Any, Callable

from runtime.ipc.messages import (
    ControlMessage,
    EventMessage,
    OutputChunk,
    Predict,
    PredictionCanceled,
    PredictionFailed,
    PredictionSucceeded,
    PredictorSpec,
    SetupFailed,
    SetupSucceeded,
    Shutdown,
)
from runtime.schema.arguments import prepared_arguments
from runtime.schema.outputs import to_wire
from runtime.types import CancelationException
from runtime.worker.capture import OutputCapture

Send = Callable[[EventMessage], None]

EXIT_OK = 0
EXIT_SETUP_FAILED = 4


def describe_failure(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"predict() called sys.exit({error.code!r})"
    message = str(error)
    return message if message else type(error).__name__


def _setup_arguments(setup: Callable[..., Any]) -> dict[str, Any]:
    # Cog passes COG_WEIGHTS to setup(weights=...) when setup() takes that argument.
    if "weights" not in inspect.signature(setup).parameters:
        return {}
    weights = os.environ.get("COG_WEIGHTS")
    if weights and os.path.exists(weights):
        from runtime.types import Path

        return {"weights": Path(weights)}
    return {"weights": weights or None}


class _Runner:
    def __init__(self, predictor: Any, spec: PredictorSpec, send: Send, capture: OutputCapture) -> None:
        self.predictor = predictor
        self.spec = spec
        self.send = send
        self.capture = capture

    def _setup_call(self) -> Any:
        setup = getattr(self.predictor, "setup", None)
        return setup(**_setup_arguments(setup)) if callable(setup) else None

    def _report_setup(self, error: BaseException | None) -> int:
        if error is not None:
            traceback.print_exception(error)
        self.capture.drain()
        if error is None:
            self.send(SetupSucceeded())
            return EXIT_OK
        self.send(SetupFailed(error=f"setup() failed: {type(error).__name__}: {error}"))
        return EXIT_SETUP_FAILED

    def _finish(self, outcome: EventMessage) -> None:
        self.capture.drain()
        self.capture.owner = None
        self.send(outcome)

    def _failed(self, prediction_id: str, error: BaseException) -> PredictionFailed:
        traceback.print_exception(error)
        return PredictionFailed(prediction_id=prediction_id, error=describe_failure(error))

    def _emit_chunk(self, prediction_id: str, item: Any, workdir: str) -> None:
        self.send(OutputChunk(prediction_id=prediction_id, value=to_wire(item, workdir)))


class SyncRunner(_Runner):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._inbox: queue.SimpleQueue[ControlMessage] = queue.SimpleQueue()
        self._running: str | None = None  # set only while predict() runs for this id
        self._cancel_target: str | None = None
        self._main_thread = threading.main_thread().ident

    def submit(self, message: ControlMessage) -> None:
        self._inbox.put(message)

    def cancel(self, prediction_id: str) -> None:
        if self._running == prediction_id:
            self._cancel_target = prediction_id
            signal.pthread_kill(self._main_thread, signal.SIGUSR1)  # type: ignore[arg-type]

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self._running is not None and self._running == self._cancel_target:
            raise CancelationException()

    def run(self) -> int:
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        try:
            result = self._setup_call()
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
        except BaseException as error:
            return self._report_setup(error)
        self._report_setup(None)
        while True:
            message = self._inbox.get()
            if isinstance(message, Shutdown):
                return EXIT_OK
            if isinstance(message, Predict):
                self._predict(message)

    def _predict(self, request: Predict) -> None:
        self.capture.drain()  # what was written between predictions is not this one's
        self.capture.owner = request.id
        outcome: EventMessage
        try:
            with prepared_arguments(self.spec, request.input) as arguments:
                started = time.perf_counter()
                self._running = request.id
                try:
                    output = self._call_predict(request, arguments)
                finally:
                    self._running = None
                    self._cancel_target = None
            outcome = PredictionSucceeded(
                prediction_id=request.id, predict_time=time.perf_counter() - started, output=output)
        except CancelationException:
            outcome = PredictionCanceled(prediction_id=request.id)
        except BaseException as error:
            outcome = self._failed(request.id, error)
        self._finish(outcome)

    def _call_predict(self, request: Predict, arguments: dict[str, Any]) -> Any:
        result = self.predictor.predict(**arguments)
        if not self.spec.is_iterator:
            return to_wire(result, request.workdir)
        for item in result:
            self._emit_chunk(request.id, item, request.workdir)
        return None


async def _await(awaitable: Any) -> Any:
    return await awaitable


class AsyncRunner(_Runner):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[ControlMessage] | None = None
        self._ready = threading.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, message: ControlMessage) -> None:
        self._ready.wait()
        assert self._loop is not None and self._inbox is not None
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, message)

    def cancel(self, prediction_id: str) -> None:
        self._ready.wait()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._cancel_task, prediction_id)

    def _cancel_task(self, prediction_id: str) -> None:
        task = self._tasks.get(prediction_id)
        if task is not None:
            task.cancel()

    def run(self) -> int:
        return asyncio.run(self._run())

    async def _run(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._inbox = asyncio.Queue()
        self._ready.set()
        try:
            result = self._setup_call()
            if inspect.isawaitable(result):
                await result
        except BaseException as error:
            return self._report_setup(error)
        self._report_setup(None)
        while True:
            message = await self._inbox.get()
            if isinstance(message, Shutdown):
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                return EXIT_OK
            if isinstance(message, Predict):
                task = asyncio.create_task(self._predict(message))
                self._tasks[message.id] = task
                task.add_done_callback(lambda _, key=message.id: self._tasks.pop(key, None))

    async def _predict(self, request: Predict) -> None:
        if self.spec.max_concurrency == 1:
            self.capture.drain()
            self.capture.owner = request.id
        outcome: EventMessage
        try:
            with prepared_arguments(self.spec, request.input) as arguments:
                started = time.perf_counter()
                output = await self._call_predict(request, arguments)
            outcome = PredictionSucceeded(
                prediction_id=request.id, predict_time=time.perf_counter() - started, output=output)
        except asyncio.CancelledError:
            outcome = PredictionCanceled(prediction_id=request.id)
        except BaseException as error:
            outcome = self._failed(request.id, error)
        self._finish(outcome)

    async def _call_predict(self, request: Predict, arguments: dict[str, Any]) -> Any:
        result = self.predictor.predict(**arguments)
        if not self.spec.is_iterator:
            return to_wire(await result, request.workdir)
        async for item in result:
            self._emit_chunk(request.id, item, request.workdir)
        return None


def make_runner(predictor: Any, spec: PredictorSpec, send: Send, capture: OutputCapture) -> SyncRunner | AsyncRunner:
    runner_class = AsyncRunner if spec.is_async else SyncRunner
    return runner_class(predictor, spec, send, capture)

