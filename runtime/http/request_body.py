"""Reading a prediction request body into a `PredictionRequest`, with Cog-shaped errors.

An empty body means `{}`. Bytes that are not JSON get a 400; JSON of the wrong shape a 422 whose
`loc` points at the offending field, as FastAPI's does.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import msgspec
from aiohttp import web

from runtime.http.prediction import PredictionRequest

_decoder = msgspec.json.Decoder(PredictionRequest)
_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\.\.\.\]")


class BadRequestBody(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _location(message: str) -> tuple[str, list[str | int]]:
    """Split msgspec's "Expected `str`, got `int` - at `$.input`" into text and a FastAPI loc."""
    text, marker, path = message.rpartition(" - at `$")
    if not marker:
        return message, ["body"]
    loc: list[str | int] = ["body"]
    for name, index in _PATH_STEP.findall(path.rstrip("`")):
        loc.append(name if name else int(index))
    return text, loc


def _url_problem(value: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError as error:
        return f"invalid URL: {error}"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "URL has no host"
    return None


async def read_prediction_request(request: web.Request) -> PredictionRequest:
    raw = await request.read()
    if not raw.strip():
        return PredictionRequest()
    try:
        body = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        text, loc = _location(str(error))
        raise BadRequestBody(422, [{"loc": loc, "msg": text, "type": "type_error"}]) from None
    except msgspec.DecodeError as error:
        raise BadRequestBody(400, f"Request body is not valid JSON: {error}") from None
    errors = [{"loc": ["body", name], "msg": problem, "type": "value_error.url"}
              for name, value in (("webhook", body.webhook), ("output_file_prefix", body.output_file_prefix))
              if value is not None and (problem := _url_problem(value))]
    if errors:
        raise BadRequestBody(422, errors)
    return body
