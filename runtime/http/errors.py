"""Error responses: always JSON with a `detail` that says what is wrong.

aiohttp's own 4xx (unknown route, wrong method, oversized body) come as plain text; the
middleware turns them into Cog's `{"detail": ...}` shape. An unexpected exception is logged with
its traceback and answered 500 without one.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import msgspec
from aiohttp import web

from runtime.http.creation import Reply

log = logging.getLogger("sprocket.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REASONS = {
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request body too large",
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status,
                        content_type="application/json", headers=headers)


def reply_response(reply: Reply) -> web.Response:
    return json_response(reply.body, reply.status, reply.headers)


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"detail": detail}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        detail = _REASONS.get(error.status, error.reason)
        if error.status == 413:
            detail = f"{detail}: {error.text}"
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return error_response(error.status, detail, headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "Internal server error; the server log has the details")
