"""HTTP routes: Cog's API. Handlers read the supervisor's state; none waits on the worker except
a synchronous prediction waiting for its own result."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from typing import Any

from aiohttp import web

from runtime.http.errors import error_response, json_response
from runtime.http.files import InputFileError, InputFiles, encode_output
from runtime.http.keys import BACKGROUND_TASKS, PREDICTIONS, PREDICTOR_VIEW, SHUTDOWN_REQUESTED, SUPERVISOR
from runtime.http.prediction import Prediction, PredictionRequest
from runtime.http.request_body import BadRequestBody, read_prediction_request
from runtime.ipc.messages import Predict, PredictorSpec
from runtime.schema.openapi import openapi_document
from runtime.schema.validation import InputValidationError, InputValidator, mask_secrets
from runtime.supervisor.state import State
from runtime.supervisor.supervisor import Supervisor
from runtime.version import VERSION

_SCRATCH = os.path.join(tempfile.gettempdir(), "sprocket-predictions")


class PredictorView:
    """What the front derives from the predictor's description, built once per description."""

    def __init__(self, spec: PredictorSpec) -> None:
        self.spec = spec
        self.validator = InputValidator(spec)
        self.files = InputFiles(spec)
        self.has_secrets = any(f.kind == "secret" for f in spec.inputs)
        self._openapi: dict[str, Any] | None = None

    def openapi(self) -> dict[str, Any]:
        if self._openapi is None:
            self._openapi = openapi_document(self.spec)
        return self._openapi


class PredictorViewCache:
    def __init__(self) -> None:
        self._view: PredictorView | None = None

    def get(self, spec: PredictorSpec) -> PredictorView:
        if self._view is None or self._view.spec is not spec:
            self._view = PredictorView(spec)
        return self._view


# ---------------------------------------------------------------- status routes

async def index(request: web.Request) -> web.Response:
    return json_response({
        "cog_version": VERSION,
        "openapi_url": "/openapi.json",
        "healthcheck_url": "/health-check",
        "predictions_url": "/predictions",
        "predictions_idempotent_url": "/predictions/{prediction_id}",
        "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
        "shutdown_url": "/shutdown",
    })


async def health_check(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    body: dict[str, Any] = {"status": supervisor.state.value, "setup": supervisor.setup.as_json()}
    if supervisor.state in (State.FAILED, State.SETUP_FAILED):
        body["error"] = supervisor.machine.reason
    return json_response(body)


async def openapi(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    if supervisor.spec is None:
        if supervisor.state is State.STARTING:
            return error_response(503, "The predictor is still loading; try again shortly")
        return error_response(503, f"The predictor failed to load: {supervisor.machine.reason}")
    return json_response(request.app[PREDICTOR_VIEW].get(supervisor.spec).openapi())


async def shutdown(request: web.Request) -> web.Response:
    request.app[SHUTDOWN_REQUESTED].set()
    return json_response({})


# ---------------------------------------------------------------- predictions

def _refusal(supervisor: Supervisor) -> web.Response | None:
    """Why no prediction can start now, as a 503; None when one may."""
    if supervisor.draining:
        return error_response(503, "The server is shutting down and takes no new predictions")
    state = supervisor.state
    if state is State.STARTING:
        return error_response(503, "Setup has not finished yet. Wait until it has finished, "
                                   "or GET /health-check for status.")
    if state is State.SETUP_FAILED:
        return error_response(503, f"Setup failed, so no predictions can run: {supervisor.machine.reason}")
    if state is State.FAILED:
        return error_response(503, f"The worker has failed: {supervisor.machine.reason}")
    return None


def _busy() -> web.Response:
    return error_response(409, "Already running a prediction")


async def _run(app: web.Application, prediction: Prediction, view: PredictorView,
               values: dict[str, Any]) -> None:
    """Fetch input files, hand the prediction to the worker and wait for its end."""
    supervisor = app[SUPERVISOR]
    if view.files.needed(values):
        try:
            values = await view.files.materialize(values, prediction.workdir)
        except InputFileError as error:
            supervisor.release(prediction.id)
            prediction.on_failed(str(error))
            return
    await supervisor.submit(Predict(id=prediction.id, input=values, workdir=prediction.workdir), prediction)
    await prediction.finished.wait()


async def _respond(app: web.Application, prediction: Prediction, status: int = 200) -> web.Response:
    body = prediction.as_json(await encode_output(prediction.output))
    return json_response(body, status=status)


def _forget(app: web.Application, prediction: Prediction) -> None:
    app[PREDICTIONS].pop(prediction.id, None)
    if os.path.isdir(prediction.workdir):
        shutil.rmtree(prediction.workdir, ignore_errors=True)


async def _run_in_background(app: web.Application, prediction: Prediction, view: PredictorView,
                             values: dict[str, Any]) -> None:
    try:
        await _run(app, prediction, view, values)
    finally:
        _forget(app, prediction)


async def _start_prediction(request: web.Request, body: PredictionRequest, prediction_id: str) -> web.Response:
    app = request.app
    supervisor = app[SUPERVISOR]
    refusal = _refusal(supervisor)
    if refusal is not None:
        return refusal
    assert supervisor.spec is not None  # READY or BUSY: the predictor has loaded
    view = app[PREDICTOR_VIEW].get(supervisor.spec)
    try:
        values = view.validator.validate(body.input)
    except InputValidationError as error:
        return error_response(422, error.errors)
    if not supervisor.reserve(prediction_id):
        return _busy()
    echoed = mask_secrets(view.spec, values) if view.has_secrets else values
    workdir = os.path.join(_SCRATCH, prediction_id)
    prediction = Prediction(prediction_id, body, echoed, workdir, view.spec.is_iterator)
    app[PREDICTIONS][prediction_id] = prediction
    if request.headers.get("Prefer") == "respond-async":
        tasks = app[BACKGROUND_TASKS]
        task = asyncio.create_task(_run_in_background(app, prediction, view, values))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return await _respond(app, prediction, status=202)
    try:
        await _run(app, prediction, view, values)
        return await _respond(app, prediction)
    finally:
        _forget(app, prediction)


async def create_prediction(request: web.Request) -> web.Response:
    try:
        body = await read_prediction_request(request)
    except BadRequestBody as error:
        return error_response(error.status, error.detail)
    return await _start_prediction(request, body, body.id or uuid.uuid4().hex)


async def create_prediction_idempotent(request: web.Request) -> web.Response:
    prediction_id = request.match_info["prediction_id"]
    try:
        body = await read_prediction_request(request)
    except BadRequestBody as error:
        return error_response(error.status, error.detail)
    if body.id is not None and body.id != prediction_id:
        return error_response(422, [{"loc": ["body", "id"], "type": "value_error",
                                     "msg": "prediction ID must match the ID supplied in the URL"}])
    existing = request.app[PREDICTIONS].get(prediction_id)
    if existing is None:
        return await _start_prediction(request, body, prediction_id)
    if request.headers.get("Prefer") == "respond-async":
        return await _respond(request.app, existing, status=202)
    await existing.finished.wait()
    return await _respond(request.app, existing)


async def cancel_prediction(request: web.Request) -> web.Response:
    prediction = request.app[PREDICTIONS].get(request.match_info["prediction_id"])
    if prediction is None or prediction.finished.is_set():
        return json_response({}, status=404)
    await request.app[SUPERVISOR].cancel(prediction.id)
    return json_response({})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/health-check", health_check)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_post("/shutdown", shutdown)
    app.router.add_post("/predictions", create_prediction)
    app.router.add_put("/predictions/{prediction_id}", create_prediction_idempotent)
    app.router.add_post("/predictions/{prediction_id}/cancel", cancel_prediction)
