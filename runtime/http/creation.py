"""Creating a prediction (or training) from a request's body and headers, whichever HTTP layer
received the request: aiohttp's routes, or the fast lane for the plain JSON case.

`begin_now` starts the prediction (or finds the one a retried request names) and returns it, or a
`Reply` when there is nothing to wait for; `create` also waits for the end of a synchronous one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Coroutine, Mapping

from runtime.http.ids import new_id
from runtime.http.prediction import Prediction, PredictionRequest
from runtime.http.request_body import BadRequestBody, decode_prediction_request
from runtime.http.service import BUSY, PredictionService, Refused

log = logging.getLogger("sprocket.http")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] | None = None


def error_reply(status: int, detail: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"detail": detail}, headers)


def busy_reply(service: PredictionService, prediction_id: str | None) -> Reply | None:
    """409 when every slot is taken, decided before the body is read or checked, as Cog does:
    under a flood of requests the refusals must cost the front (and so the running prediction)
    little. A retry of a prediction already running is not refused: it attaches to it."""
    if service.full() and (prediction_id is None or prediction_id not in service.predictions):
        return error_reply(409, BUSY)
    return None


def wants_events(headers: Mapping[str, str]) -> bool:
    return "text/event-stream" in headers.get("Accept", "")


def begin_now(service: PredictionService, raw: bytes, headers: Mapping[str, str], prediction_id: str | None,
              train: bool) -> Reply | Prediction | Coroutine[Any, Any, Reply | Prediction]:
    """Start the prediction `raw` describes. A Reply (an error, or 202 for `Prefer:
    respond-async`), or the running prediction for the caller to stream or wait for; when
    starting it means waiting (input files, a queue), a coroutine to await for one of those."""
    try:
        body = decode_prediction_request(raw)
    except BadRequestBody as error:
        return error_reply(error.status, error.detail)
    if prediction_id is None:
        prediction_id = body.id or new_id()
    if body.id is not None and body.id != prediction_id:
        noun = "training" if train else "prediction"
        return error_reply(422, [{"loc": ["body", "id"], "type": "value_error",
                                  "msg": f"{noun} ID must match the ID supplied in the URL"}])
    prediction = service.predictions.get(prediction_id)
    if prediction is not None:  # a retry of a prediction already running
        log.debug("a retried request attaches to the running prediction", extra={"prediction_id": prediction_id})
        return _started(prediction, headers)
    try:
        prediction = service.start_now(body, prediction_id, headers, train=train, stream=wants_events(headers))
    except Refused as refusal:
        return error_reply(refusal.status, refusal.detail, refusal.headers)
    if prediction is None:
        return _start_later(service, body, prediction_id, headers, train)
    return _started(prediction, headers)


async def _start_later(service: PredictionService, body: PredictionRequest, prediction_id: str,
                       headers: Mapping[str, str], train: bool) -> Reply | Prediction:
    try:
        prediction = await service.start(body, prediction_id, headers, train=train, stream=wants_events(headers))
    except Refused as refusal:
        return error_reply(refusal.status, refusal.detail, refusal.headers)
    return _started(prediction, headers)


def _started(prediction: Prediction, headers: Mapping[str, str]) -> Reply | Prediction:
    if headers.get("Prefer") == "respond-async" and not wants_events(headers):
        return Reply(202, prediction.as_json())
    return prediction


async def create(service: PredictionService, raw: bytes, headers: Mapping[str, str], prediction_id: str | None,
                 train: bool) -> Reply | Prediction:
    """`begin_now`, then wait for a synchronous prediction's end; a prediction for an event stream
    comes back as it is."""
    outcome = begin_now(service, raw, headers, prediction_id, train)
    if not isinstance(outcome, (Reply, Prediction)):
        outcome = await outcome
    if isinstance(outcome, Reply) or wants_events(headers):
        return outcome
    prediction = outcome
    prediction.hold()
    try:
        await prediction.finished.wait()
    except asyncio.CancelledError:
        # The client hung up on a synchronous prediction: nobody wants the result any more.
        service.cancel(prediction.id)
        raise
    finally:
        prediction.release()
    return Reply(200, prediction.as_json())
