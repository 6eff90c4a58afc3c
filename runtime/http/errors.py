"""Responses, errors included: always JSON, errors with a `detail` that says what is wrong.

There is no middleware (it would run on every prediction and health check): handlers build their
own error responses, and one catch-all route answers the requests no other route takes, with 404,
or 405 and `Allow` when the path exists for other methods.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json", headers=headers)


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"detail": detail}, status=status, headers=headers)


async def no_such_route(request: web.Request) -> web.Response:
    """The last route: 405 for a path other routes serve with other methods, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        return error_response(405, "Method Not Allowed", {"Allow": ",".join(sorted(allowed))})
    return error_response(404, "Not Found")
