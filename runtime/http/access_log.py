"""The access log: one line per HTTP request, with its fields as JSON keys."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access logger: `POST /predictions 200 12.3 ms 345 B from 127.0.0.1`, one INFO line
    per request on the logger it is given (use `sprocket.access`), with the fields as JSON keys.
    aiohttp calls log() after the response is written, on the event loop."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        duration_ms = round(time * 1000, 3)
        remote = request.remote or "-"
        self.logger.info(
            "%s %s %d %.1f ms %d B from %s",
            request.method,
            request.path,
            response.status,
            duration_ms,
            response.body_length,
            remote,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": duration_ms,
                "remote": remote,
                "bytes": response.body_length,
            },
        )

    @property
    def enabled(self) -> bool:
        """aiohttp skips log() altogether when the access logger would drop the line."""
        return self.logger.isEnabledFor(logging.INFO)
