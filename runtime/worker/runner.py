"""Run setup() and then predict() (or train()) for each Predict message: what every runner
shares, and the runner for synchronous predictors (runtime/worker/async_runner.py has the other).

Invariant: every Predict the runner accepts ends in exactly one terminal event
(PredictionSucceeded, PredictionFailed or PredictionCanceled), sent after every log line the
prediction wrote. A worker that dies instead is the front's to report.

Sync predictors run in the main thread, one at a time; a cancel interrupts them with SIGUSR1,
whose handler raises CancelationException (the installed `cog`'s, when it has one) only while
that prediction's predict() runs.

Each prediction runs in its own scope (runtime/scope.py): its request's context in, the metrics
it records out, with its terminal event.

While a prediction runs alone, Python's temporary directory is the prediction's own directory,
so files it creates with `tempfile` go when the front removes that directory.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import msgspec

from runtime.cog_alias import cancelation_exceptions
from runtime.ipc.messages import (
    EventMessage,
    Predict,
    PredictionCanceled,
    PredictionFailed,
    PredictionSucceeded,
    PredictorSpec,
    SetupFailed,
    SetupSucceeded,
    Shutdown,
    WorkerExit,
)
from runtime.ipc.transport import WorkerChannel
from runtime.schema.arguments import prepared_arguments
from runtime.schema.outputs import to_wire
from runtime.scope import Scope, entered_scope
from runtime.types import Path
from runtime.worker.awaiting import run_to_completion
from runtime.worker.capture import OutputCapture
from runtime.worker.outbox import Outbox

Send = Callable[[EventMessage], None]


@dataclass(frozen=True)
class Entrypoint:
    """A callable the worker runs for requests, its description, and the classes its Path and
    Secret inputs are made as."""

    function: Callable[..., Any]
    spec: PredictorSpec
    classes: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def describe_failure(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit: predict() called sys.exit({error.code!r})"
    message = str(error)
    return message if message else type(error).__name__


def _setup_arguments(setup: Callable[..., Any]) -> dict[str, Any]:
    # Cog passes COG_WEIGHTS to setup(weights=...) when setup() takes that argument.
    if "weights" not in inspect.signature(setup).parameters:
        return {}
    weights = os.environ.get("COG_WEIGHTS")
    if weights and os.path.exists(weights):
        return {"weights": Path(weights)}
    return {"weights": weights or None}


@contextlib.contextmanager
def temporary_directory(workdir: str) -> Iterator[None]:
    """tempfile's directory while a prediction runs: its workdir, which the front made, empty,
    and removes what is left in."""
    tempfile.tempdir = workdir
    try:
        yield
    finally:
        tempfile.tempdir = None


class Runner:
    """What the worker's main thread runs: setup(), then predictions until Shutdown."""

    def run(self) -> int:
        raise NotImplementedError

    def cancel(self, prediction_id: str) -> None:
        raise NotImplementedError

    def __init__(
        self,
        predict: Entrypoint,
        train: Entrypoint | None,
        channel: WorkerChannel,
        outbox: Outbox,
        capture: OutputCapture,
    ) -> None:
        self.predict = predict
        self.train = train
        self.channel = channel
        self.outbox = outbox
        self.send: Send = outbox.send
        self.capture = capture
        self.alone = predict.spec.max_concurrency == 1
        self.on_ready: Callable[[], None] | None = None  # called once setup() has succeeded

    def _setup_calls(self) -> list[Any]:
        """Call setup() on each predictor object once; return what they returned."""
        results = []
        seen: set[int] = set()
        for entry in (self.predict, self.train):
            owner = getattr(entry.function, "__self__", None) if entry else None
            setup = getattr(owner, "setup", None)
            if callable(setup) and id(owner) not in seen:
                seen.add(id(owner))
                results.append(setup(**_setup_arguments(setup)))
        return results

    def _report_setup(self, error: BaseException | None) -> int:
        if error is not None:
            traceback.print_exception(error)
        self.capture.drain()
        if error is None:
            self.send(SetupSucceeded())
            if self.on_ready is not None:
                self.on_ready()
            return WorkerExit.OK
        self.send(SetupFailed(error=f"setup() failed: {type(error).__name__}: {error}"))
        return WorkerExit.SETUP_FAILED

    def _entry(self, request: Predict) -> Entrypoint:
        if request.train:
            if self.train is None:
                raise RuntimeError("this model has no trainer")
            return self.train
        return self.predict

    def _start(self, request: Predict) -> None:
        if self.alone:
            self.capture.drain()  # what was written between predictions is not this one's
            self.capture.owner = request.id

    def _finish(self, outcome: EventMessage) -> None:
        if self.alone:
            self.capture.drain()
            self.capture.owner = None
        try:
            self.send(outcome)
        except (OverflowError, TypeError, msgspec.EncodeError) as error:  # an output msgpack cannot carry
            assert isinstance(outcome, PredictionSucceeded)
            self.send(
                PredictionFailed(
                    prediction_id=outcome.prediction_id,
                    error=f"predict() returned an output that cannot be sent: {error}",
                )
            )

    @staticmethod
    def _succeeded(prediction_id: str, output: Any, started: float, scope: Scope) -> PredictionSucceeded:
        return PredictionSucceeded(
            prediction_id=prediction_id,
            predict_time=time.perf_counter() - started,
            output=output,
            metrics=scope.metrics.values or None,
        )

    @staticmethod
    def _canceled(prediction_id: str, scope: Scope) -> PredictionCanceled:
        return PredictionCanceled(prediction_id=prediction_id, metrics=scope.metrics.values or None)

    def _failed(
        self, prediction_id: str, error: BaseException, ran_for: float | None, scope: Scope
    ) -> PredictionFailed:
        traceback.print_exception(error)
        return PredictionFailed(
            prediction_id=prediction_id,
            error=describe_failure(error),
            predict_time=ran_for,
            metrics=scope.metrics.values or None,
        )

    def _emit_chunk(self, prediction_id: str, item: Any, workdir: str) -> None:
        self.outbox.send_chunk(prediction_id, to_wire(item, workdir))


class SyncRunner(Runner):
    """Reads its requests itself, in the main thread: no hand-off between threads per prediction."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._running: str | None = None  # set only while this prediction's predict() runs
        self._cancelled: set[str] = set()
        self._cancelations = cancelation_exceptions()
        self._main_thread = threading.main_thread().ident

    def cancel(self, prediction_id: str) -> None:
        # Recorded first, then checked: with _predict doing the reverse, one of the two always
        # sees the other, so a cancel arriving just as predict() starts is not lost.
        self._cancelled.add(prediction_id)
        if self._running == prediction_id:
            signal.pthread_kill(self._main_thread, signal.SIGUSR1)  # type: ignore[arg-type]

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self._running is not None and self._running in self._cancelled:
            raise self._cancelations[0]()

    def _run_setup(self) -> int | None:
        """Run setup(); the exit code if it failed, None if predictions can follow."""
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        try:
            for result in self._setup_calls():
                if inspect.isawaitable(result):
                    run_to_completion(result)
        except BaseException as error:
            return self._report_setup(error)
        self._report_setup(None)
        return None

    def run(self) -> int:
        if (failed := self._run_setup()) is not None:
            return failed
        while True:
            message = self.channel.receive(self.channel.requests)
            if isinstance(message, Shutdown):
                return WorkerExit.OK
            if isinstance(message, Predict):
                self._predict(message)

    def _predict(self, request: Predict) -> None:
        self._start(request)
        scope = Scope(request.context)
        started: float | None = None
        outcome: EventMessage
        try:
            entry = self._entry(request)
            with (
                temporary_directory(request.workdir),
                entered_scope(scope),
                prepared_arguments(entry.spec, request.input, entry.classes) as arguments,
            ):
                started = time.perf_counter()
                self._running = request.id
                try:
                    if request.id in self._cancelled:
                        raise self._cancelations[0]()
                    output = self._call(entry, request, arguments)
                finally:
                    self._running = None
            outcome = self._succeeded(request.id, output, started, scope)
        except self._cancelations:
            outcome = self._canceled(request.id, scope)
        except BaseException as error:
            outcome = self._failed(request.id, error, None if started is None else time.perf_counter() - started, scope)
        self._cancelled.discard(request.id)
        self._finish(outcome)

    def _call(self, entry: Entrypoint, request: Predict, arguments: dict[str, Any]) -> Any:
        result = entry.function(**arguments)
        if inspect.isawaitable(result):  # an async trainer beside a sync predictor
            result = run_to_completion(result)
        if not entry.spec.is_iterator:
            return to_wire(result, request.workdir)
        for item in result:
            self._emit_chunk(request.id, item, request.workdir)
        return None
