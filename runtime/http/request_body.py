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
        if name or index:  # msgspec writes a dict key it does not name as [...]: stop at the dict
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


async def read_prediction_body(request: web.Request, limit: int) -> bytes:
    """The raw body; aiohttp's 413 for one over `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        # Say no before reading: a client announcing 1 GiB need not send 100 MiB of it first.
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    return await request.read()


def decode_prediction_request(raw: bytes) -> PredictionRequest:
    """Raises BadRequestBody."""
    if not raw.strip():
        return PredictionRequest()
    try:
        body = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        text, loc = _location(str(error))
        raise BadRequestBody(422, [{"loc": loc, "msg": text, "type": "type_error"}]) from None
    except msgspec.DecodeError as error:
        raise BadRequestBody(400, f"Request body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequestBody(400, "Request body is nested too deeply") from None
    except UnicodeDecodeError as error:  # msgspec lets this one through from inside strings
        raise BadRequestBody(400, f"Request body is not valid UTF-8: {error.reason} at byte {error.start}") from None
    errors = [{"loc": ["body", name], "msg": problem, "type": "value_error.url"}
              for name, value in (("webhook", body.webhook), ("output_file_prefix", body.output_file_prefix))
              if value is not None and (problem := _url_problem(value))]
    if errors:
        raise BadRequestBody(422, errors)
    return body
