"""HTTP routes: Cog's API. Handlers read the supervisor's state and hand predictions to the
service; none waits on the worker except a synchronous prediction waiting for its own result."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from runtime.http.errors import error_response, json_response, no_such_route
from runtime.http.health import health_report
from runtime.http.keys import LOOP_WATCH, MONITOR, SERVICE, SHUTDOWN_REQUESTED
from runtime.http.request_body import BadRequestBody, id_problem, read_prediction_request
from runtime.http.service import BUSY, Refused
from runtime.http.sse import last_event_id, stream_events
from runtime.supervisor.state import State
from runtime.supervisor.supervisor import Supervisor
from runtime.version import VERSION, cog_version

log = logging.getLogger("sprocket.http")


# ---------------------------------------------------------------- status routes


async def index(request: web.Request) -> web.Response:
    body = {
        "cog_version": cog_version(),
        "sprocket_version": VERSION,
        "openapi_url": "/openapi.json",
        "healthcheck_url": "/health-check",
        "predictions_url": "/predictions",
        "predictions_idempotent_url": "/predictions/{prediction_id}",
        "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
        "shutdown_url": "/shutdown",
        "readiness_url": "/readyz",
        "liveness_url": "/livez",
        "metrics_url": "/metrics",
    }
    if request.app[SERVICE].supervisor.training_spec is not None:
        body |= {
            "trainings_url": "/trainings",
            "trainings_idempotent_url": "/trainings/{training_id}",
            "trainings_cancel_url": "/trainings/{training_id}/cancel",
        }
    return json_response(body)


async def health_check(request: web.Request) -> web.Response:
    return json_response(health_report(request.app[SERVICE].supervisor, request.app[MONITOR]))


def _not_ready_reason(supervisor: Supervisor) -> str | None:
    if supervisor.draining:
        return "shutting down"
    if supervisor.state not in (State.READY, State.BUSY):
        return supervisor.machine.reason
    if supervisor.unhealthy is not None:
        return supervisor.unhealthy
    slots = supervisor.slots
    if slots.full and slots.queued >= slots.queue_size:
        return "every prediction slot is taken" + (" and the queue is full" if slots.queue_size else "")
    return None


async def readyz(request: web.Request) -> web.Response:
    """200 only when a prediction sent now would be taken (run, or queued)."""
    supervisor = request.app[SERVICE].supervisor
    reason = _not_ready_reason(supervisor)
    status = "UNHEALTHY" if supervisor.unhealthy else supervisor.state.value
    if reason is None:
        return json_response({"status": status})
    return json_response({"status": status, "reason": reason}, status=503)


async def livez(request: web.Request) -> web.Response:
    """503 only when the replica is beyond saving: FAILED with no restart coming, or a front
    whose event loop recently stalled. Anything else will pass on its own, or is for /readyz."""
    supervisor = request.app[SERVICE].supervisor
    stall = request.app[LOOP_WATCH].recent_stall()
    if stall is not None:
        return json_response(
            {"status": "stalled", "reason": f"the event loop was blocked for {stall:.1f} s"}, status=503
        )
    if supervisor.state is State.FAILED and not supervisor.restart_pending:
        return json_response({"status": "FAILED", "reason": supervisor.machine.reason}, status=503)
    return json_response({"status": "alive"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[SERVICE].metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    try:
        return json_response(request.app[SERVICE].openapi())
    except Refused as refusal:
        return error_response(refusal.status, refusal.detail)


async def shutdown(request: web.Request) -> web.Response:
    token = request.app[SERVICE].config.shutdown_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "POST /shutdown needs 'Authorization: Bearer <SPROCKET_SHUTDOWN_TOKEN>'")
    request.app[SHUTDOWN_REQUESTED].set()
    return json_response({})


# ---------------------------------------------------------------- predictions and trainings


def _refusal_response(refusal: Refused) -> web.Response:
    """Cog's `{"detail": ...}`; a 503 (the prediction cannot run now) also carries coglet's
    `status` and `error`, which its clients read."""
    body: dict[str, Any] = {"detail": refusal.detail}
    if refusal.status == 503:
        body |= {"status": "failed", "error": refusal.detail}
    return json_response(body, refusal.status, refusal.headers)


def _wants_events(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


async def _create(request: web.Request, prediction_id: str | None, train: bool) -> web.StreamResponse:
    service = request.app[SERVICE]
    if prediction_id is not None and (problem := id_problem(prediction_id)):
        return error_response(422, [{"loc": ["path", "prediction_id"], "msg": problem, "type": "value_error"}])
    # Refused before the body is read or checked, as Cog does: under a flood of requests the
    # refusals must cost the front (and so the running prediction) little. A retry of a
    # prediction already running is not refused: it attaches to it.
    if service.full() and (prediction_id is None or prediction_id not in service.predictions):
        return error_response(409, BUSY)
    try:
        body = await read_prediction_request(request, service.config.max_body_bytes)
    except BadRequestBody as error:
        return error_response(error.status, error.detail)
    if prediction_id is not None and body.id is not None and body.id != prediction_id:
        noun = "training" if train else "prediction"
        return error_response(
            422,
            [{"loc": ["body", "id"], "type": "value_error", "msg": f"{noun} ID must match the ID supplied in the URL"}],
        )
    # Unguessable: whoever knows an id can cancel the prediction.
    prediction_id = prediction_id or body.id or secrets.token_hex(16)
    stream = _wants_events(request)
    prediction = service.predictions.get(prediction_id)
    created_here = prediction is None
    if prediction is not None:
        log.debug("a retried request attaches to the running prediction", extra={"prediction_id": prediction_id})
    else:
        try:
            prediction = await service.start(body, prediction_id, request.headers, train=train, stream=stream)
        except Refused as refusal:
            return _refusal_response(refusal)
    if stream:
        return await stream_events(
            request, service.events_for(prediction), last_event_id(request.headers), service.config.sse_keepalive
        )
    if request.headers.get("Prefer") == "respond-async":
        return json_response(prediction.as_json(), status=202)
    await service.wait_for_end(prediction, created_here)
    return json_response(prediction.as_json())


async def create_prediction(request: web.Request) -> web.StreamResponse:
    return await _create(request, None, train=False)


async def create_prediction_idempotent(request: web.Request) -> web.StreamResponse:
    return await _create(request, request.match_info["prediction_id"], train=False)


async def create_training(request: web.Request) -> web.StreamResponse:
    return await _create(request, None, train=True)


async def create_training_idempotent(request: web.Request) -> web.StreamResponse:
    return await _create(request, request.match_info["prediction_id"], train=True)


async def cancel(request: web.Request) -> web.Response:
    cancelled = request.app[SERVICE].cancel(request.match_info["prediction_id"])
    return json_response({}, status=200 if cancelled else 404)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/health-check", health_check)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_post("/shutdown", shutdown)
    app.router.add_post("/predictions", create_prediction)
    app.router.add_put("/predictions/{prediction_id}", create_prediction_idempotent)
    app.router.add_post("/predictions/{prediction_id}/cancel", cancel)
    app.router.add_post("/trainings", create_training)
    app.router.add_put("/trainings/{prediction_id}", create_training_idempotent)
    app.router.add_post("/trainings/{prediction_id}/cancel", cancel)
    app.router.add_route("*", "/{path:.*}", no_such_route)
