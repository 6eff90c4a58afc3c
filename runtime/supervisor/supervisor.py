"""The supervisor: owns the worker process, the state machine and the prediction slots.

HTTP handlers call `reserve`, `submit` and `cancel`, and read `state`, `setup` and `spec`;
none of those waits on the worker. Worker events are read by one task and dispatched to the
listener of the prediction they name. When the worker dies, every prediction still in flight
is failed with the decoded exit reason, so none is left hanging.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from runtime.ipc.messages import (
    Cancel,
    EventMessage,
    Log,
    OutputChunk,
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
from runtime.supervisor.process import describe_exit, kill, spawn_worker, wait_exit
from runtime.supervisor.state import State, StateMachine

log = logging.getLogger("sprocket.supervisor")
predictor_log = logging.getLogger("sprocket.predictor")

# After the worker exits, events it sent just before may still be on their way.
_EXIT_DRAIN_SECONDS = 0.2
_WORKER_STOP_SECONDS = 5.0


class PredictionListener(Protocol):
    """Receives what the worker reports about one prediction. Exactly one terminal call is made."""

    def on_log(self, text: str) -> None: ...
    def on_output_chunk(self, value: Any) -> None: ...
    def on_succeeded(self, output: Any, predict_time: float) -> None: ...
    def on_failed(self, error: str) -> None: ...
    def on_canceled(self) -> None: ...


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class SetupInfo:
    started_at: datetime | None = None
    completed_at: datetime | None = None
    status: str | None = None  # "succeeded" | "failed"
    logs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Cog's shape: {} until setup has finished."""
        if self.status is None:
            return {}
        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "logs": "".join(self.logs),
            "status": self.status,
        }


class Supervisor:
    def __init__(self, predictor_ref: str, workdir: str, max_concurrency: int | None) -> None:
        self.predictor_ref = predictor_ref
        self.workdir = workdir
        self.requested_concurrency = max_concurrency or 1
        self.machine = StateMachine()
        self.setup = SetupInfo()
        self.spec: PredictorSpec | None = None
        self.draining = False
        self.worker_pid: int | None = None
        self._channel = FrontChannel()
        self._process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._inflight: dict[str, PredictionListener | None] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    # ------------------------------------------------------------ reading state

    @property
    def state(self) -> State:
        return self.machine.state

    @property
    def capacity(self) -> int:
        return self.spec.max_concurrency if self.spec else self.requested_concurrency

    def in_flight(self) -> int:
        return len(self._inflight)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.setup = SetupInfo(started_at=utc_now())
        self._process = await spawn_worker(
            self._channel.endpoints, self.predictor_ref, self.workdir, self.requested_concurrency)
        self.worker_pid = self._process.pid
        self._pump = asyncio.create_task(self._pump_events(), name="worker-events")
        self._watch = asyncio.create_task(self._watch_exit(self._process), name="worker-exit")

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no prediction is in flight; False if `timeout` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop the worker: ask it to exit, then SIGKILL. Predictions still in flight are
        cancelled first, and failed if the worker goes before reporting them."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            for prediction_id in list(self._inflight):
                await self._channel.send(Cancel(id=prediction_id))
            await self._channel.send(Shutdown())
            if not await wait_exit(process, _WORKER_STOP_SECONDS):
                await kill(process)
        if self._watch is not None:
            await self._watch
        self._channel.close()

    # ------------------------------------------------------------ predictions

    def reserve(self, prediction_id: str) -> bool:
        """Take a slot for `prediction_id` if one is free now. The caller must then `submit`
        or `release` it."""
        if self.state not in (State.READY, State.BUSY) or len(self._inflight) >= self.capacity:
            return False
        self._inflight[prediction_id] = None
        self._idle.clear()
        if len(self._inflight) >= self.capacity:
            self.machine.transition(State.BUSY, "all prediction slots taken")
        return True

    def release(self, prediction_id: str) -> None:
        if self._inflight.pop(prediction_id, False) is False:
            return
        if not self._inflight:
            self._idle.set()
        if self.state is State.BUSY:
            self.machine.transition(State.READY, "a prediction slot is free")

    async def submit(self, request: Predict, listener: PredictionListener) -> None:
        """Send a reserved prediction to the worker; `listener` hears how it goes."""
        if self._process is None or self._process.returncode is not None:
            self.release(request.id)
            listener.on_failed(self.machine.reason)
            return
        self._inflight[request.id] = listener
        await self._channel.send(request)

    async def cancel(self, prediction_id: str) -> bool:
        if prediction_id not in self._inflight:
            return False
        await self._channel.send(Cancel(id=prediction_id))
        return True

    # ------------------------------------------------------------ worker events

    async def _pump_events(self) -> None:
        while True:
            self._dispatch(await self._channel.receive())

    def _dispatch(self, event: EventMessage) -> None:
        if isinstance(event, Log):
            self._on_log(event)
        elif isinstance(event, OutputChunk):
            listener = self._inflight.get(event.prediction_id)
            if listener is not None:
                listener.on_output_chunk(event.value)
        elif isinstance(event, (PredictionSucceeded, PredictionFailed, PredictionCanceled)):
            self._on_terminal(event)
        elif isinstance(event, PredictorLoaded):
            self.spec = event.spec
            log.info("predictor loaded: %d inputs, up to %d at once",
                     len(event.spec.inputs), event.spec.max_concurrency)
        elif isinstance(event, SetupSucceeded):
            self._finish_setup("succeeded")
            elapsed = (self.setup.completed_at - self.setup.started_at).total_seconds()  # type: ignore[operator]
            self.machine.transition(State.READY, f"setup succeeded in {elapsed:.1f} s")
        elif isinstance(event, SetupFailed):
            self._finish_setup("failed")
            self.machine.transition(State.SETUP_FAILED, event.error)

    def _finish_setup(self, status: str) -> None:
        self.setup.completed_at = utc_now()
        self.setup.status = status

    def _on_log(self, event: Log) -> None:
        if event.prediction_id is None:
            if self.state is State.STARTING:
                self.setup.logs.append(event.data)
            else:
                predictor_log.info("%s", event.data.rstrip("\n"))
            return
        listener = self._inflight.get(event.prediction_id)
        if listener is not None:
            listener.on_log(event.data)

    def _on_terminal(self, event: PredictionSucceeded | PredictionFailed | PredictionCanceled) -> None:
        listener = self._inflight.get(event.prediction_id)
        # The slot is free before the listener answers its client, so a client sending
        # requests back to back never meets a 409.
        self.release(event.prediction_id)
        if listener is None:
            return
        if isinstance(event, PredictionSucceeded):
            listener.on_succeeded(event.output, event.predict_time)
        elif isinstance(event, PredictionFailed):
            listener.on_failed(event.error)
        else:
            listener.on_canceled()

    async def _drain_after_exit(self) -> None:
        deadline = time.monotonic() + _EXIT_DRAIN_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(self._channel.receive(), remaining)
            except asyncio.TimeoutError:
                return
            self._dispatch(event)

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        returncode = await process.wait()
        if self._pump is not None:
            self._pump.cancel()
        await self._drain_after_exit()
        reason = describe_exit(returncode)
        expected = self._stopping
        (log.info if expected else log.error)("worker=%d: %s", process.pid, reason)
        for prediction_id, listener in list(self._inflight.items()):
            self.release(prediction_id)
            if listener is not None:
                listener.on_failed(f"prediction failed: {reason}")
        self._channel.discard_pending_control()
        if expected or self.state is State.SETUP_FAILED:
            return
        if self.state is State.STARTING:
            self._finish_setup("failed")
            self.setup.logs.append(f"{reason}\n")
            self.machine.transition(State.SETUP_FAILED, f"{reason} during setup")
        elif self.state is not State.FAILED:
            self.machine.transition(State.FAILED, reason)
