"""Reading a prediction request into a `PredictionRequest`, with Cog-shaped errors.

An empty body means `{}`. A body that cannot be read (over the size limit, badly compressed) or
is not JSON gets a 4xx saying so; JSON of the wrong shape a 422 whose `loc` points at the
offending field, as FastAPI's does. Prediction ids and the URLs the server will call later
(`webhook`, `output_file_prefix`) are checked here, so that nothing the client sent can make
the prediction fail once it has been accepted.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from typing import Any

import msgspec
import yarl
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from runtime.http.prediction import PredictionRequest

_decoder = msgspec.json.Decoder(PredictionRequest)
_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\.\.\.\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
MAX_ID_LENGTH = 256
# zlib's window bits: a gzip header and trailer, or a zlib one.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


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


def id_problem(prediction_id: str) -> str | None:
    """Why `prediction_id` cannot be used (it travels in headers, logs and file names), or None."""
    if len(prediction_id) > MAX_ID_LENGTH:
        return f"ID is {len(prediction_id)} characters long; at most {MAX_ID_LENGTH} are allowed"
    if _CONTROL.search(prediction_id):
        return "ID contains a control character (such as a newline or NUL); use printable characters"
    return None


def url_problem(value: str) -> str | None:
    """Why the server could never deliver to `value`, or None. Parsed by yarl, as aiohttp's client
    will parse it."""
    if _CONTROL.search(value):
        return "URL contains a control character"
    try:
        url = yarl.URL(value)
        port = url.port
    except ValueError as error:
        return f"invalid URL: {error}"
    if url.scheme not in ("http", "https"):
        return "must be an http or https URL"
    host = url.raw_host
    if not host:
        return "URL has no host"
    if port == 0:
        return "URL has port 0, which cannot be connected to"
    if not _valid_host(host):
        return f"URL host {url.host!r} is not a valid host name or IP address"
    return None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _decompressed(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body without its Content-Encoding; 400 unless the compressed data is whole and valid.

    aiohttp's own decoding is switched off for this (runtime/server.py): it lets a truncated gzip
    body through as an empty one, which would run the prediction with its defaults."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise BadRequestBody(415, f"Content-Encoding {encoding!r} is not supported; use gzip or deflate, or none")
    decompressor = zlib.decompressobj(wbits)
    try:
        body = decompressor.decompress(raw, limit + 1)
    except zlib.error as error:
        raise BadRequestBody(400, f"Request body is not valid {encoding} data: {error}") from None
    if len(body) > limit:
        raise BadRequestBody(
            413, f"Request body too large: over {limit} bytes once decompressed (SPROCKET_MAX_BODY_BYTES)"
        )
    if not decompressor.eof:
        raise BadRequestBody(400, f"Request body is truncated {encoding} data: the compressed stream does not end")
    if decompressor.unused_data:
        raise BadRequestBody(
            400, f"Request body has {len(decompressor.unused_data)} bytes after the end of its {encoding} data"
        )
    return body


async def read_prediction_request(request: web.Request, limit: int) -> PredictionRequest:
    """The request's body, decoded. Raises BadRequestBody."""
    if request.content_length is not None and request.content_length > limit:
        # Say no before reading: a client announcing 1 GiB need not send 100 MiB of it first.
        raise BadRequestBody(
            413, f"Request body too large: {request.content_length} bytes, more than {limit} (SPROCKET_MAX_BODY_BYTES)"
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadRequestBody(
            413, f"Request body too large: more than {limit} bytes (SPROCKET_MAX_BODY_BYTES)"
        ) from None
    except (web.RequestPayloadError, HttpProcessingError) as error:
        raise BadRequestBody(400, f"Request body could not be read: {error}") from None
    return decode_prediction_request(_decompressed(raw, request.headers.get("Content-Encoding", ""), limit))


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
    errors = [
        {"loc": ["body", name], "msg": problem, "type": "value_error.url"}
        for name, value in (("webhook", body.webhook), ("output_file_prefix", body.output_file_prefix))
        if value is not None and (problem := url_problem(value))
    ]
    if body.id is not None and (problem := id_problem(body.id)):
        errors.append({"loc": ["body", "id"], "msg": problem, "type": "value_error"})
    if errors:
        raise BadRequestBody(422, errors)
    return body
