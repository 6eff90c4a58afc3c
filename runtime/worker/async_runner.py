"""Async predictors: tasks on one event loop (shared with an async setup()), up to
max_concurrency at once; a cancel cancels the task.

The loop reads the requests socket itself, as the front reads its events: a burst of 64
predictions is taken in one loop turn, with no hand-over from another thread per request. The
control thread still reads cancels, so a cancel never waits behind work.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from typing import Any

from runtime.ipc.messages import (
    EventMessage,
    Predict,
    Shutdown,
    WorkerExit,
)
from runtime.schema.arguments import prepared_arguments
from runtime.schema.outputs import to_wire
from runtime.scope import Scope, entered_scope
from runtime.worker.capture import current_prediction
from runtime.worker.runner import Entrypoint, Runner, temporary_directory


class AsyncRunner(Runner):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._ready = threading.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def cancel(self, prediction_id: str) -> None:
        self._ready.wait()
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is left to cancel
            self._loop.call_soon_threadsafe(self._cancel_task, prediction_id)

    def _cancel_task(self, prediction_id: str) -> None:
        # The cancel came on the other socket and may have overtaken its prediction: take the
        # requests already waiting first.
        self._read_requests()
        task = self._tasks.get(prediction_id)
        if task is not None:
            task.cancel()

    def run(self) -> int:
        return asyncio.run(self._run())

    async def _run(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._shutdown = asyncio.Event()
        self._ready.set()
        self.outbox.gather_turns(self._loop)  # many streams' tokens of one loop turn, one message
        try:
            return await self._serve()
        finally:
            self.outbox.gather_turns(None)

    async def _serve(self) -> int:
        assert self._loop is not None and self._shutdown is not None
        try:
            for result in self._setup_calls():
                if inspect.isawaitable(result):
                    await result
        except BaseException as error:
            return self._report_setup(error)
        self._report_setup(None)
        requests = self.channel.requests
        self._loop.add_reader(requests.FD, self._read_requests)
        self._read_requests()  # what came before the reader was added
        try:
            await self._shutdown.wait()
        finally:
            self._loop.remove_reader(requests.FD)
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        return WorkerExit.OK

    def _read_requests(self) -> None:
        # The descriptor is edge-triggered: read until the socket says nothing is left.
        assert self._shutdown is not None
        while not self._shutdown.is_set():
            message = self.channel.receive(self.channel.requests, timeout_ms=0)
            if message is None:
                return
            if isinstance(message, Shutdown):
                self._shutdown.set()
            elif isinstance(message, Predict):
                self._tasks[message.id] = asyncio.create_task(self._predict(message))

    async def _predict(self, request: Predict) -> None:
        self._start(request)
        current_prediction.set(request.id)  # this task's own context: its print()s are its logs
        scope = Scope(request.context)
        started: float | None = None
        outcome: EventMessage
        try:
            entry = self._entry(request)
            scratch = temporary_directory(request.workdir) if self.alone else contextlib.nullcontext()
            with (
                scratch,
                entered_scope(scope),
                prepared_arguments(entry.spec, request.input, entry.classes) as arguments,
            ):
                started = time.perf_counter()
                output = await self._call(entry, request, arguments)
            outcome = self._succeeded(request.id, output, started, scope)
        except asyncio.CancelledError:
            outcome = self._canceled(request.id, scope)
        except BaseException as error:
            outcome = self._failed(request.id, error, None if started is None else time.perf_counter() - started, scope)
        self._tasks.pop(request.id, None)
        self._finish(outcome)

    async def _call(self, entry: Entrypoint, request: Predict, arguments: dict[str, Any]) -> Any:
        result = entry.function(**arguments)
        if inspect.isawaitable(result):
            result = await result
        if not entry.spec.is_iterator:
            return to_wire(result, request.workdir)
        if hasattr(result, "__aiter__"):
            async for item in result:
                self._emit_chunk(request.id, item, request.workdir)
        else:  # a sync trainer beside an async predictor
            for item in result:
                self._emit_chunk(request.id, item, request.workdir)
        return None
