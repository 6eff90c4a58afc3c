"""The life of a prediction in the front: admit, fetch inputs, run, notify, clean up.

Routes turn HTTP into calls here and results back into HTTP. A request the service refuses
raises `Refused` with the status and detail to answer. An admitted prediction is registered
under its id until it ends; then its directory goes.

Nothing a client does may leave something behind: a client that hangs up while its request waits
(for a slot, for its data URLs to be written) gives back the slot and the directory; a
prediction cancelled while its input files download stops downloading and ends `canceled`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

import aiohttp

from runtime.config import ServerConfig
from runtime.http.files import (
    IO_CHUNK,
    DataUrlRejected,
    DownloadLimits,
    InputFileError,
    InputFiles,
    OutputEncoder,
)
from runtime.http.prediction import Completed, Prediction, PredictionEvent, PredictionRequest, Watcher
from runtime.http.sse import EventStream
from runtime.http.trace_context import trace_headers
from runtime.http.webhooks import ALL_EVENTS, WebhookNotifier, WebhookSettings
from runtime.http.workdirs import WorkdirPool
from runtime.ipc.messages import Predict, PredictorSpec
from runtime.schema.openapi import openapi_document
from runtime.schema.validation import InputValidationError, InputValidator, input_echo
from runtime.supervisor.slots import Admission
from runtime.supervisor.state import State
from runtime.supervisor.supervisor import Supervisor

log = logging.getLogger("sprocket.http")

BUSY = "Already running a prediction"


class Refused(Exception):
    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class EntrypointView:
    """What the front derives from one entry point's description, built once per description."""

    def __init__(self, spec: PredictorSpec) -> None:
        self.spec = spec
        self.validator = InputValidator(spec)
        self.files = InputFiles(spec)
        self.has_files_or_secrets = any(f.kind in ("secret", "path", "file") for f in spec.inputs)


class PredictionService:
    def __init__(self, supervisor: Supervisor, config: ServerConfig) -> None:
        self.supervisor = supervisor
        self.config = config
        self.predictions: dict[str, Prediction] = {}
        self.event_streams: dict[str, EventStream] = {}
        self.session: aiohttp.ClientSession | None = None
        self._views: list[EntrypointView] = []
        self._openapi: tuple[Any, dict[str, Any]] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._downloading: dict[str, asyncio.Task[None]] = {}
        self._workdirs = WorkdirPool()
        self._shutdown_deadline = float("inf")
        self._limits = DownloadLimits(config.download_max_bytes, config.download_timeout)
        self.metrics = supervisor.metrics
        self._webhooks = WebhookSettings(
            config.throttle_interval,
            config.webhook_timeout,
            config.webhook_retries,
            config.webhook_auth_token,
            self.metrics.webhook_failures.inc,
        )

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(read_bufsize=IO_CHUNK)

    def begin_shutdown(self) -> None:
        """From now on the shutdown grace period runs: for predictions, then their webhooks."""
        self.supervisor.draining = True
        self._shutdown_deadline = time.monotonic() + self.config.shutdown_grace

    async def close(self) -> None:
        """Wait until the grace period ends for background work (webhooks being retried
        included); cancel what is left, saying so."""
        if self._tasks:
            timeout = max(1.0, self._shutdown_deadline - time.monotonic())
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending:
                log.warning(
                    "shutting down with %d webhook deliveries or downloads unfinished; abandoning them", len(pending)
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        self._workdirs.close()

    # ------------------------------------------------------------ descriptions

    def _view(self, spec: PredictorSpec) -> EntrypointView:
        for view in self._views:
            if view.spec is spec:
                return view
        # A new worker brought new descriptions: drop views of the old ones.
        current = (self.supervisor.spec, self.supervisor.training_spec)
        self._views = [v for v in self._views if any(v.spec is c for c in current)]
        self._views.append(view := EntrypointView(spec))
        return view

    def openapi(self) -> dict[str, Any]:
        supervisor = self.supervisor
        if supervisor.spec is None:
            if supervisor.state is State.STARTING:
                raise Refused(503, "The predictor is still loading; try again shortly")
            raise Refused(503, f"The predictor failed to load: {supervisor.machine.reason}")
        key = (supervisor.spec, supervisor.training_spec)
        if self._openapi is None or self._openapi[0] != key:
            self._openapi = (key, openapi_document(supervisor.spec, training_spec=supervisor.training_spec))
        return self._openapi[1]

    # ------------------------------------------------------------ starting

    def full(self) -> bool:
        """Would a prediction arriving now get 409 (every slot taken, no room to queue)?

        Before saying yes, the worker's events that have already arrived are handled: under a
        flood of requests the loop gets round to them only after answering dozens of others, and
        a result waiting there frees the slot this request can have (goodput under overload)."""
        if not self._no_room():
            return False
        self.supervisor.catch_up()
        return self._no_room()

    def _no_room(self) -> bool:
        supervisor = self.supervisor
        slots = supervisor.slots
        return (
            supervisor.state is State.BUSY
            and not supervisor.draining
            and slots.full
            and slots.queued >= slots.queue_size
        )

    def _refuse_if_unavailable(self) -> None:
        supervisor = self.supervisor
        if supervisor.draining:
            raise Refused(503, "The server is shutting down and takes no new predictions")
        gone = supervisor.worker_gone()
        if gone is not None:
            raise Refused(503, f"The worker has failed: {gone}")
        state = supervisor.state
        if state is State.STARTING:
            raise Refused(
                503, "Setup has not finished yet. Wait until it has finished, or GET /health-check for status."
            )
        if state is State.SETUP_FAILED:
            raise Refused(503, f"Setup failed, so no predictions can run: {supervisor.machine.reason}")
        if state is State.FAILED:
            raise Refused(503, f"The worker has failed: {supervisor.machine.reason}")

    def _entrypoint(self, train: bool) -> tuple[PredictorSpec, EntrypointView]:
        self._refuse_if_unavailable()
        spec = self.supervisor.training_spec if train else self.supervisor.spec
        if spec is None:
            raise Refused(404, "This model has no trainer: cog.yaml has no 'train' entry")
        return spec, self._view(spec)

    async def start(
        self,
        body: PredictionRequest,
        prediction_id: str,
        headers: Mapping[str, str],
        *,
        train: bool = False,
        stream: bool = False,
    ) -> Prediction:
        """Admit and start a prediction; it runs in the background. Raises Refused.

        Without input files to write and with a free slot, nothing here waits."""
        spec, view = self._entrypoint(train)
        try:
            raw = values = view.validator.validate(body.input)
        except InputValidationError as error:
            raise Refused(422, error.errors) from None
        workdir = self._new_workdir()
        try:
            if view.files.has_data_urls(values):
                values = await view.files.write_data_urls(values, workdir, self.config.download_max_bytes)
            await self._admit(prediction_id)
        except DataUrlRejected as error:
            self._discard(workdir)
            raise Refused(error.status, error.errors) from None
        except BaseException:  # refused, or the client hung up while this request waited
            self._discard(workdir)
            raise
        return self._launch(body, prediction_id, headers, spec, view, raw, values, workdir, train, stream)

    def _new_workdir(self) -> str:
        try:
            return self._workdirs.acquire()
        except OSError as error:
            raise Refused(
                503, f"Could not make the prediction's working directory ({error.strerror}); try again later"
            ) from None

    async def _admit(self, prediction_id: str) -> None:
        arrived = time.monotonic()
        admission = await self.supervisor.admit(prediction_id)
        self.metrics.queue_wait.observe(time.monotonic() - arrived)
        if admission is Admission.BUSY:
            raise Refused(409, BUSY)
        if admission is Admission.QUEUE_TIMEOUT:
            raise Refused(
                503,
                f"Every prediction slot stayed busy for {self.config.queue_timeout:.0f} s "
                "(SPROCKET_QUEUE_TIMEOUT); try again later",
                {"Retry-After": str(max(1, round(self.config.queue_timeout)))},
            )
        if admission is Admission.REFUSED:
            self._refuse_if_unavailable()
            raise Refused(503, f"The replica cannot take predictions now: {self.supervisor.machine.reason}")

    def _launch(
        self,
        body: PredictionRequest,
        prediction_id: str,
        headers: Mapping[str, str],
        spec: PredictorSpec,
        view: EntrypointView,
        raw: dict[str, Any],
        values: dict[str, Any],
        workdir: str,
        train: bool,
        stream: bool,
    ) -> Prediction:
        """The admitted prediction, registered and on its way to the worker."""
        trace = trace_headers(headers)
        assert self.session is not None
        encoder = OutputEncoder(
            self.session,
            prediction_id,
            self.config.upload_url,
            body.output_file_prefix,
            trace,
            self.metrics.upload_failures.inc,
        )
        echoed = input_echo(spec, raw) if view.has_files_or_secrets else raw
        prediction = Prediction(
            prediction_id, body, echoed, workdir, spec.is_iterator, encoder, self._forget, self.config.max_log_bytes
        )
        self.predictions[prediction_id] = prediction
        if body.webhook:
            events = ALL_EVENTS if body.webhook_events_filter is None else frozenset(body.webhook_events_filter)
            if events:
                self._track(WebhookNotifier(prediction, body.webhook, events, self.session, self._webhooks, trace).task)
        if stream:
            self.events_for(prediction)
        prediction.watch(self._counter_for(prediction))
        if view.files.has_downloads(values):
            download = asyncio.create_task(
                self._download_then_submit(prediction, view, values, train), name=f"download-{prediction_id}"
            )
            self._downloading[prediction_id] = download
            self._track(download)
        else:
            self._submit(prediction, values, train)
        return prediction

    def _track(self, task: asyncio.Future[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _counter_for(self, prediction: Prediction) -> Watcher:
        def count_the_end(event: PredictionEvent) -> None:
            if isinstance(event, Completed):
                submitted = prediction.submitted_at
                self.metrics.count_end(prediction.status, None if submitted is None else time.monotonic() - submitted)

        return count_the_end

    def _submit(self, prediction: Prediction, values: dict[str, Any], train: bool) -> None:
        """Hand the prediction to the worker once its input files are in place."""
        prediction.submitted_at = time.monotonic()
        self.supervisor.submit(
            Predict(
                id=prediction.id,
                input=values,
                workdir=prediction.workdir,
                train=train,
                context=prediction.request.context,
            ),
            prediction,
        )

    async def _download_then_submit(
        self, prediction: Prediction, view: EntrypointView, values: dict[str, Any], train: bool
    ) -> None:
        """Fetch the input files, then submit. Whatever ends this early (a failed download, a
        cancel, an error of ours) ends the prediction and frees its slot."""
        try:
            assert self.session is not None
            values = await view.files.download(values, prediction.workdir, self.session, self._limits)
        except asyncio.CancelledError:
            self.supervisor.release(prediction.id)
            prediction.on_canceled()
            return
        except InputFileError as error:
            self.supervisor.release(prediction.id)
            prediction.on_failed(str(error))
            return
        except Exception as error:
            log.exception("downloading the input files failed", extra={"prediction_id": prediction.id})
            self.supervisor.release(prediction.id)
            prediction.on_failed(f"internal error: {type(error).__name__}: {error}")
            return
        finally:
            self._downloading.pop(prediction.id, None)
        self._submit(prediction, values, train)

    def events_for(self, prediction: Prediction) -> EventStream:
        events = self.event_streams.get(prediction.id)
        if events is None:
            events = self.event_streams[prediction.id] = EventStream(prediction, self.config.stream_history)
        return events

    # ------------------------------------------------------------ the rest of a life

    async def wait_for_end(self, prediction: Prediction, created_here: bool) -> None:
        """Wait for the prediction's end, for a synchronous client. A synchronous request that
        created the prediction wants its result: once every client waiting for it has hung up,
        nobody does, and it is cancelled. (A client that attached to a prediction someone else
        created asynchronously leaves it running.)"""
        if created_here:
            prediction.cancel_when_abandoned = True
        prediction.waiters += 1
        try:
            await prediction.finished.wait()
        except asyncio.CancelledError:
            abandoned = prediction.waiters == 1 and prediction.cancel_when_abandoned
            log.debug(
                "a client waiting for the prediction hung up%s",
                "; cancelling it" if abandoned else "",
                extra={"prediction_id": prediction.id},
            )
            if abandoned:
                self.cancel(prediction.id)
            raise
        finally:
            prediction.waiters -= 1

    def cancel(self, prediction_id: str) -> bool:
        prediction = self.predictions.get(prediction_id)
        if prediction is None or prediction.finished.is_set():
            return False
        download = self._downloading.get(prediction_id)
        if download is not None:
            download.cancel()
            return True
        return self.supervisor.cancel(prediction_id)

    def _forget(self, prediction: Prediction) -> None:
        self.supervisor.release(prediction.id)  # held until now if its output files were being returned
        if self.predictions.get(prediction.id) is prediction:
            del self.predictions[prediction.id]
            self.event_streams.pop(prediction.id, None)
        self._discard(prediction.workdir)

    def _discard(self, workdir: str) -> None:
        removal = self._workdirs.release(workdir)
        if removal is not None:
            self._track(removal)
