"""The runner for a synchronous predictor with `predict_batch()` (runtime/worker/batching.py).

Predictions are read from the requests socket and run together, up to the batch size; a
training, or a prediction while the batch is being gathered, is run as the sync runner runs it.
Each member keeps its own fate: its own terminal event, its own output or error. A cancel takes
its member out at once (reported canceled from the control thread, its output dropped when the
batch ends), and never interrupts the call the other members wait for. What the batch prints is
in the logs of every member; the metrics it records go to every member, with `batch_size`.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from typing import Any

from runtime.ipc.messages import (
    ControlMessage,
    EventMessage,
    Predict,
    PredictionCanceled,
    PredictionFailed,
    PredictionSucceeded,
    Shutdown,
    WorkerExit,
)
from runtime.schema.arguments import prepared_arguments
from runtime.schema.outputs import to_wire
from runtime.scope import Scope, entered_scope
from runtime.worker.batching import Batching
from runtime.worker.runner import SyncRunner, describe_failure


class BatchRunner(SyncRunner):
    def __init__(self, *args: Any, batching: Batching) -> None:
        super().__init__(*args)
        self.batching = batching
        self.alone = True  # the front admits a batch's worth, but this worker runs one call at a time
        self._members_lock = threading.Lock()
        self._unreported: dict[str, Predict] = {}  # the batch's members whose end is not yet sent

    def cancel(self, prediction_id: str) -> None:
        # Under the lock, so a prediction being taken into a batch either sees the cancel first
        # or is a member by the time the cancel looks.
        with self._members_lock:
            member = self._unreported.pop(prediction_id, None)
            if member is None:
                super().cancel(prediction_id)  # not in a batch: as the sync runner does
                return
        self.send(PredictionCanceled(prediction_id=prediction_id))

    def run(self) -> int:
        if (failed := self._run_setup()) is not None:
            return failed
        waiting: ControlMessage | None = None
        while True:
            # What is there the moment the worker is free came while it was busy; anything later
            # found it idle.
            queued = waiting or self.channel.receive(self.channel.requests, timeout_ms=0)
            message = queued or self.channel.receive(self.channel.requests)
            waiting = None
            if isinstance(message, Shutdown):
                return WorkerExit.OK
            if isinstance(message, Predict) and not message.train:
                members, waiting = self._gather(message, idle=queued is None)
                self._run_batch(members)
            elif isinstance(message, Predict):
                self._predict(message)

    def _gather(self, first: Predict, *, idle: bool) -> tuple[list[Predict], ControlMessage | None]:
        """`first` and the predictions that join it, and a message that ended the gathering.

        A worker that was `idle` waits up to `batch_wait` after `first` for others. One that was
        busy takes only what already waits: those predictions have waited for it already.
        """
        members = [first]
        deadline = time.monotonic() + (self.batching.wait if idle else 0)
        message: ControlMessage | None = None
        while len(members) < self.batching.max_size:
            remaining_ms = max(0, round((deadline - time.monotonic()) * 1000))
            message = self.channel.receive(self.channel.requests, timeout_ms=remaining_ms)
            if message is None:
                break
            if not isinstance(message, Predict) or message.train:
                return members, message
            members.append(message)
            message = None
        return members, message

    def _run_batch(self, requests: list[Predict]) -> None:
        with self._members_lock:
            members = []
            for request in requests:
                if request.id in self._cancelled:  # cancelled before it was read
                    self._cancelled.discard(request.id)
                    self.send(PredictionCanceled(prediction_id=request.id))
                else:
                    self._unreported[request.id] = request
                    members.append(request)
        if not members:
            return
        self.capture.drain()
        self.capture.owner = tuple(member.id for member in members)
        scope = Scope()
        started = time.perf_counter()
        try:
            outputs = self._call_batch(members, scope)
        except BaseException as error:
            traceback.print_exception(error)
            outputs = [error] * len(members)
        elapsed = time.perf_counter() - started
        self.capture.drain()
        self.capture.owner = None
        metrics = {**scope.metrics.values, "batch_size": len(members)}
        for member, output in zip(members, outputs, strict=True):
            with self._members_lock:
                if self._unreported.pop(member.id, None) is None:
                    continue  # cancelled while the batch ran, and already reported
            self._finish(self._outcome(member, output, elapsed, metrics))

    def _call_batch(self, members: list[Predict], scope: Scope) -> list[Any]:
        spec, classes = self.predict.spec, self.predict.classes
        with contextlib.ExitStack() as stack:
            stack.enter_context(entered_scope(scope))
            arguments = [stack.enter_context(prepared_arguments(spec, member.input, classes)) for member in members]
            columns = {field.name: [each.get(field.name) for each in arguments] for field in spec.inputs}
            outputs = self.batching.function(**columns)
        if not isinstance(outputs, (list, tuple)) or len(outputs) != len(members):
            got = f"{len(outputs)} outputs" if isinstance(outputs, (list, tuple)) else f"a {type(outputs).__name__}"
            raise TypeError(
                f"predict_batch() returned {got} for {len(members)} predictions; "
                "return a list with one output per prediction, in order"
            )
        return list(outputs)

    def _outcome(self, member: Predict, output: Any, elapsed: float, metrics: dict[str, Any]) -> EventMessage:
        if isinstance(output, BaseException):
            return PredictionFailed(
                prediction_id=member.id, error=describe_failure(output), predict_time=elapsed, metrics=metrics
            )
        try:
            wired = to_wire(output, member.workdir)
        except (TypeError, FileNotFoundError) as error:
            return PredictionFailed(prediction_id=member.id, error=str(error), predict_time=elapsed, metrics=metrics)
        return PredictionSucceeded(prediction_id=member.id, predict_time=elapsed, output=wired, metrics=metrics)
