"""The supervisor: owns the worker process, the state machine and the prediction slots.

HTTP handlers call `admit`, `submit` and `cancel`, and read `state`, `setup` and `spec`;
none of those waits on the worker. Worker events are read by one task and dispatched to the
listener of the prediction they name.

Invariant: every prediction given a listener gets exactly one terminal call on it. When the
worker dies, every prediction still in flight is failed with the decoded exit (or reported
canceled, if a cancel was what killed it).

Timers: a prediction over `predict_timeout` is cancelled and fails saying so; a cancelled
prediction still running `cancel_grace` seconds later gets its worker killed and replaced
(FAILED -> STARTING -> READY); setup over `setup_timeout` is SETUP_FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from runtime.config import ServerConfig
from runtime.ipc.messages import (
    Cancel,
    EventMessage,
    Exiting,
    HealthcheckResult,
    Log,
    OutputChunks,
    Predict,
    PredictionCanceled,
    PredictionFailed,
    PredictionSucceeded,
    PredictorLoaded,
    PredictorSpec,
    SetupFailed,
    SetupSucceeded,
    Shutdown,
)
from runtime.ipc.transport import FrontChannel
from runtime.logbuffer import LogBuffer
from runtime.metrics import Metrics
from runtime.supervisor.process import WorkerProcess, describe_exit, kill, spawn_worker, wait_exit
from runtime.supervisor.restart import Cause, RestartPolicy
from runtime.supervisor.slots import Admission, Slots
from runtime.supervisor.state import State, StateMachine
from runtime.supervisor.watch import ProcessWatch

log = logging.getLogger("sprocket.supervisor")
predictor_log = logging.getLogger("sprocket.predictor")

# After the worker exits, events it sent just before may still be on their way.
_EXIT_DRAIN_SECONDS = 0.2
_WORKER_STOP_SECONDS = 5.0

Stream = Literal["stdout", "stderr"]


class PredictionListener(Protocol):
    """Receives what the worker reports about one prediction. Exactly one terminal call is made.
    `finished` is set once the prediction has ended for its clients: until then, they may still
    be reading the files the worker wrote."""

    finished: asyncio.Event

    def on_log(self, text: str, stream: Stream) -> None: ...
    def on_output_chunk(self, value: Any) -> None: ...
    def on_metrics(self, metrics: dict[str, Any]) -> None: ...
    def on_succeeded(self, output: Any, predict_time: float) -> None: ...
    def on_failed(self, error: str, predict_time: float | None = None) -> None: ...
    def on_canceled(self) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SetupInfo:
    logs: LogBuffer
    started_at: datetime | None = None
    completed_at: datetime | None = None
    status: str | None = None  # "succeeded" | "failed"

    def as_json(self) -> dict[str, Any]:
        """Cog's shape: {} until setup has finished."""
        if self.status is None:
            return {}
        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "logs": self.logs.text(),
            "status": self.status,
        }


@dataclass
class _InFlight:
    listener: PredictionListener | None = None  # None until `listen`
    sent: bool = False
    cancel_requested: bool = False
    timed_out: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class Supervisor:
    """`channel` and `first_worker` may come from `python -m runtime`, which starts the first
    worker before the HTTP stack is even imported; otherwise `start` makes them."""

    def __init__(
        self,
        settings: ServerConfig,
        metrics: Metrics | None = None,
        channel: FrontChannel | None = None,
        first_worker: WorkerProcess | None = None,
    ) -> None:
        self.settings = settings
        self._restart = RestartPolicy.from_config(settings)
        self.metrics = metrics or Metrics()
        self.machine = StateMachine(self._on_transition)
        self.setup = SetupInfo(LogBuffer(settings.max_log_bytes))
        self.spec: PredictorSpec | None = None
        self.training_spec: PredictorSpec | None = None
        self.draining = False
        self.worker_pid: int | None = None
        self.watch: ProcessWatch | None = None
        self.restarts = 0
        self.last_failure: str | None = None
        self.restart_pending = False
        self.user_health: HealthcheckResult | None = None
        self.slots = Slots(
            settings.max_concurrency or 1, settings.queue_size, settings.queue_timeout, self._slots_changed
        )
        self.metrics.follow(
            state=lambda: self.machine.state.value,
            in_flight=lambda: len(self.slots.held),
            queued=lambda: self.slots.queued,
        )
        self._channel = channel or FrontChannel()
        self._first_worker = first_worker
        self._process: WorkerProcess | None = None
        self._watch: asyncio.Task[None] | None = None
        self._worker_said_goodbye = False  # its Exiting message has come
        self._setup_timer: asyncio.TimerHandle | None = None
        self._inflight: dict[str, _InFlight] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._kill: tuple[str, Cause] | None = None  # why the supervisor itself killed the worker

    # ------------------------------------------------------------ reading state

    @property
    def state(self) -> State:
        return self.machine.state

    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def unhealthy(self) -> str | None:
        """The predictor's own healthcheck() complaint, while READY or BUSY."""
        health = self.user_health
        if health is None or health.healthy or self.state not in (State.READY, State.BUSY):
            return None
        return health.error or "healthcheck() returned False"

    def _on_transition(self, old: State, new: State, reason: str) -> None:
        self.metrics.count_transition(old.value, new.value)
        if new in (State.FAILED, State.SETUP_FAILED):
            self.last_failure = reason
        ready_file = self.settings.ready_file
        if ready_file and new is State.READY and old is State.STARTING:
            os.makedirs(os.path.dirname(ready_file), exist_ok=True)
            with open(ready_file, "w"):
                pass
        elif ready_file and new in (State.FAILED, State.SETUP_FAILED):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ready_file)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Spawn a worker (or adopt the first one); it loads the predictor and runs setup()."""
        if self._first_worker is not None:
            self._process, self._first_worker = self._first_worker, None
        else:
            self._process = spawn_worker(self._channel.open_for_worker(), self.settings)
        self.setup = SetupInfo(LogBuffer(self.settings.max_log_bytes), started_at=self._process.started_at)
        self.spec = self.training_spec = None
        self.user_health = None
        self.worker_pid = self._process.pid
        self.watch = ProcessWatch(self._process.pid)
        self._worker_said_goodbye = False
        self._channel.start_receiving(self._dispatch)
        self._watch = asyncio.create_task(self._watch_exit(self._process), name="worker-exit")
        if self.settings.setup_timeout:
            self._setup_timer = asyncio.get_running_loop().call_later(self.settings.setup_timeout, self._setup_overdue)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no prediction is in flight; False if `timeout` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop the worker: cancel what it still runs, ask it to exit, then SIGKILL. Predictions
        it does not report in time end canceled. A restart waiting for its back-off is dropped."""
        self._stopping = True
        self.restart_pending = False
        self._stop_requested.set()
        self.slots.refuse_waiters()
        process = self._process
        if process is not None and process.returncode is None:
            for prediction_id, entry in list(self._inflight.items()):
                self._request_cancel(prediction_id, entry)
            self._channel.send_request(Shutdown())
            if not await wait_exit(process, _WORKER_STOP_SECONDS):
                self._kill = (
                    f"worker did not exit within {_WORKER_STOP_SECONDS:.0f} s of being asked to stop; killed",
                    Cause.CRASHED,
                )
                await kill(process)
        if self._watch is not None:
            await self._watch
        self._channel.close()

    # ------------------------------------------------------------ predictions

    def catch_up(self) -> None:
        """Handle the worker's events that have already arrived (a result frees a slot)."""
        self._channel.receive_waiting()

    def _accepting(self) -> bool:
        return self.state in (State.READY, State.BUSY) and not self.draining and self.worker_gone() is None

    def worker_gone(self) -> str | None:
        """How the worker ended, when its exit has been seen but the state has not moved yet
        (its last events are still being read): a prediction must not be taken meanwhile."""
        process = self._process
        if process is None or not process.exited or self.state not in (State.READY, State.BUSY):
            return None
        returncode = process.returncode
        return self._exit_reason(returncode)[0] if returncode is not None else "the worker exited"

    async def admit(self, prediction_id: str) -> Admission:
        """Take a slot for `prediction_id`, waiting in the queue if one is configured. When
        ACCEPTED, the caller must `submit` the prediction or `release` the slot."""
        if not self._accepting():
            return Admission.REFUSED
        admission = await self.slots.take(prediction_id)
        if admission is Admission.ACCEPTED:
            if not self._accepting():  # the worker died while this request was queued
                self.slots.give_back(prediction_id)
                return Admission.REFUSED
            self._inflight[prediction_id] = _InFlight()
            self._idle.clear()
        return admission

    def release(self, prediction_id: str) -> None:
        """The prediction has ended: its slot is free. Calling it again does nothing."""
        self._end_in_worker(prediction_id)
        self.slots.give_back(prediction_id)

    def _end_in_worker(self, prediction_id: str) -> None:
        """Forget the worker's part of the prediction: its timers, and the route for its cancel."""
        entry = self._inflight.pop(prediction_id, None)
        if entry is None:
            return
        for timer in entry.timers:
            timer.cancel()
        if not self._inflight:
            self._idle.set()

    def _slots_changed(self) -> None:
        if self.state is State.READY and self.slots.full:
            self.machine.transition(State.BUSY, "all prediction slots taken")
        elif self.state is State.BUSY and not self.slots.full:
            self.machine.transition(State.READY, "a prediction slot is free")

    def submit(self, request: Predict, listener: PredictionListener) -> None:
        """Send an admitted prediction to the worker; `listener` hears how it goes. If it cannot
        run (cancelled before it was sent, no worker, the send failed), the listener hears that
        at once and the slot is freed."""
        entry = self._inflight.get(request.id)
        if entry is None or entry.cancel_requested or self._process is None or self._process.exited:
            self.release(request.id)
            if entry is not None and entry.cancel_requested:
                listener.on_canceled()
            else:
                listener.on_failed(f"prediction failed: {self.worker_gone() or self.machine.reason}")
            return
        try:
            self._channel.send_request(request)
        except Exception as error:
            log.exception("the prediction could not be sent to the worker", extra={"prediction_id": request.id})
            self.release(request.id)
            listener.on_failed(f"prediction could not be sent to the worker: {error}")
            return
        entry.sent = True
        entry.listener = listener
        if self.settings.predict_timeout:
            entry.timers.append(
                asyncio.get_running_loop().call_later(self.settings.predict_timeout, self._predict_overdue, request.id)
            )

    def cancel(self, prediction_id: str) -> bool:
        """Ask the worker to stop `prediction_id`; False if it is not in flight."""
        entry = self._inflight.get(prediction_id)
        if entry is None:
            return False
        self._request_cancel(prediction_id, entry)
        return True

    def _request_cancel(self, prediction_id: str, entry: _InFlight) -> None:
        if entry.cancel_requested:
            return
        entry.cancel_requested = True
        if not entry.sent:
            return  # not sent to the worker yet: listen() will report it canceled
        entry.timers.append(
            asyncio.get_running_loop().call_later(self.settings.cancel_grace, self._cancel_overdue, prediction_id)
        )
        self._channel.send_control(Cancel(id=prediction_id))

    def _predict_overdue(self, prediction_id: str) -> None:
        entry = self._inflight.get(prediction_id)
        if entry is None:
            return
        log.warning(
            "ran past SPROCKET_PREDICT_TIMEOUT (%.1f s); cancelling it",
            self.settings.predict_timeout,
            extra={"prediction_id": prediction_id},
        )
        entry.timed_out = True
        self._request_cancel(prediction_id, entry)

    def _cancel_overdue(self, prediction_id: str) -> None:
        if prediction_id in self._inflight:
            self.kill_worker(
                f"prediction {prediction_id} did not stop within {self.settings.cancel_grace:.1f} s "
                "of being cancelled; worker killed",
                Cause.STUCK_CANCEL,
            )

    def kill_worker(self, reason: str, cause: Cause) -> None:
        """Kill the worker for `reason`; its exit is then reported with that reason."""
        if self._process is None or self._process.returncode is not None or self._kill is not None:
            return
        log.error("worker=%d: %s", self._process.pid, reason)
        self._kill = (reason, cause)
        self._process.kill()

    def _setup_overdue(self) -> None:
        if self.state is not State.STARTING or self._process is None:
            return
        reason = f"setup timed out after {self.settings.setup_timeout:.1f} s (COG_SETUP_TIMEOUT)"
        self._finish_setup("failed")
        self.setup.logs.append(f"{reason}\n")
        self.machine.transition(State.SETUP_FAILED, reason)
        self._process.kill()

    # ------------------------------------------------------------ worker events

    def _dispatch(self, event: EventMessage) -> None:
        if isinstance(event, Log):
            self._on_log(event)
        elif isinstance(event, OutputChunks):
            entry = self._inflight.get(event.prediction_id)
            if entry is not None and entry.listener is not None:
                for value in event.values:
                    entry.listener.on_output_chunk(value)
        elif isinstance(event, (PredictionSucceeded, PredictionFailed, PredictionCanceled)):
            self._on_terminal(event)
        elif isinstance(event, PredictorLoaded):
            self.spec = event.spec
            self.training_spec = event.training_spec
            self.slots.capacity = event.spec.max_concurrency
            log.info(
                "predictor loaded: %d inputs, up to %d at once", len(event.spec.inputs), event.spec.max_concurrency
            )
        elif isinstance(event, SetupSucceeded):
            self._finish_setup("succeeded")
            elapsed = (self.setup.completed_at - self.setup.started_at).total_seconds()  # type: ignore[operator]
            self.metrics.setup_duration.set(elapsed)
            self.machine.transition(State.READY, f"setup succeeded in {elapsed:.1f} s")
        elif isinstance(event, HealthcheckResult):
            if not event.healthy and (self.user_health is None or self.user_health.healthy):
                log.warning("the predictor's healthcheck() reports a problem: %s", event.error)
            self.user_health = event
        elif isinstance(event, Exiting):
            self._worker_said_goodbye = True
        elif isinstance(event, SetupFailed) and self.state is State.STARTING:
            self._finish_setup("failed")
            self.machine.transition(State.SETUP_FAILED, event.error)

    def _finish_setup(self, status: str) -> None:
        if self._setup_timer is not None:
            self._setup_timer.cancel()
            self._setup_timer = None
        self.setup.completed_at = utc_now()
        self.setup.status = status

    def _on_log(self, event: Log) -> None:
        if event.prediction_id is None:
            if self.state is State.STARTING:
                self.setup.logs.append(event.data)
            else:
                predictor_log.info("%s", event.data.rstrip("\n"))
            return
        entry = self._inflight.get(event.prediction_id)
        if entry is not None and entry.listener is not None:
            entry.listener.on_log(event.data, event.stream)

    def _on_terminal(self, event: PredictionSucceeded | PredictionFailed | PredictionCanceled) -> None:
        entry = self._inflight.get(event.prediction_id)
        # The slot is free before the client can have its answer and send the next request, so
        # back-to-back requests never meet a 409: here, or where the prediction ends.
        returning_files = False
        try:
            if entry is not None and entry.listener is not None:
                listener = entry.listener
                if event.metrics:  # what the predictor recorded, before the end that reports it
                    listener.on_metrics(event.metrics)
                if entry.timed_out:
                    listener.on_failed(
                        f"prediction timed out after {self.settings.predict_timeout:.1f} s (SPROCKET_PREDICT_TIMEOUT)"
                    )
                elif isinstance(event, PredictionSucceeded):
                    listener.on_succeeded(event.output, event.predict_time)
                elif isinstance(event, PredictionFailed):
                    listener.on_failed(event.error, event.predict_time)
                else:
                    listener.on_canceled()
                # Not ended yet: its output files are still being returned. Many Cog predictors
                # write every output to one path, so the next prediction waits, or it would write
                # over them; `release` gives the slot back when this one ends.
                returning_files = not listener.finished.is_set()
        finally:
            if returning_files:
                self._end_in_worker(event.prediction_id)
            else:
                self.release(event.prediction_id)

    async def _drain_after_exit(self) -> None:
        self._channel.stop_receiving()
        if self._worker_said_goodbye:
            return  # its Exiting message came, so everything it sent has been handled
        for event in await self._channel.receive_pending(_EXIT_DRAIN_SECONDS):
            self._dispatch(event)

    def _fail_in_flight(self, reason: str) -> None:
        for prediction_id, entry in list(self._inflight.items()):
            self.release(prediction_id)
            listener = entry.listener
            if listener is None:
                continue
            if entry.timed_out:
                listener.on_failed(
                    f"prediction timed out after {self.settings.predict_timeout:.1f} s "
                    "(SPROCKET_PREDICT_TIMEOUT); it ignored the cancel, so the worker was killed"
                )
            elif entry.cancel_requested:
                listener.on_canceled()
            else:
                listener.on_failed(f"prediction failed: {reason}")

    def _exit_reason(self, returncode: int) -> tuple[str, Cause]:
        if self._kill is not None:
            return self._kill
        reason = describe_exit(returncode)
        if returncode == -signal.SIGKILL and self.watch is not None and self.watch.killed_by_oom_killer():
            reason = "worker killed by the kernel's OOM killer (SIGKILL)"
        return reason, Cause.SETUP if self.state is State.STARTING else Cause.CRASHED

    async def _watch_exit(self, process: WorkerProcess) -> None:
        returncode = await process.wait()
        await self._drain_after_exit()
        # Why the supervisor killed it was logged when it did; its SIGKILL is no hint of memory.
        ours = self._kill is not None and returncode == -signal.SIGKILL
        reason, cause = self._exit_reason(returncode)
        self._kill = None
        ending = "worker killed by SIGKILL, sent by the supervisor" if ours else reason
        (log.info if self._stopping else log.error)("worker=%d: %s", process.pid, ending)
        if self._stopping:
            self._fail_in_flight(reason)
            return
        if self.state is not State.FAILED:
            self._move_to_failed(reason)
        self._fail_in_flight(reason)
        if self.state is State.SETUP_FAILED and cause is not Cause.SETUP:
            cause = Cause.SETUP  # setup never finished: a new worker would only run it again
        decision = self._restart.decide(cause, self.restarts)
        log.info("worker=%d: %s", process.pid, decision.why)
        if decision.restart:
            self.restart_pending = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(decision.delay):
                    await self._stop_requested.wait()  # shutting down: no new worker
            if self._stopping or not self.restart_pending:
                return
            self.restart_pending = False
            self.restarts += 1
            self.metrics.restarts.inc()
            self.machine.transition(State.STARTING, f"starting a new worker ({decision.why})")
            await self.start()

    def _move_to_failed(self, reason: str) -> None:
        self.slots.refuse_waiters()
        if self.state is State.SETUP_FAILED:
            return
        if self.state is State.STARTING:
            self._finish_setup("failed")
            self.setup.logs.append(f"{reason}\n")
            self.machine.transition(State.SETUP_FAILED, f"{reason} during setup")
            return
        self.machine.transition(State.FAILED, reason)
