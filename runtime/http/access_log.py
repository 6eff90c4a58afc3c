"""The access log: one line per HTTP request, with its fields as JSON keys."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


def log_access(logger: logging.Logger, method: str, path: str, status: int, seconds: float, size: int,
               remote: str) -> None:
    """`GET /predictions 200 12.3 ms 345 B from 127.0.0.1`, with the fields as JSON keys."""
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 3)
    logger.info("%s %s %d %.1f ms %d B from %s", method, path, status, duration_ms, size, remote,
                extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms,
                       "remote": remote, "bytes": size})


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access logger: one INFO line per request on the logger it is given (use
    `sprocket.access`), as `log_access` writes it. aiohttp calls log() after the response is
    written, on the event loop."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log_access(self.logger, request.method, request.path, response.status, time, response.body_length,
                   request.remote or "-")

    @property
    def enabled(self) -> bool:
        """aiohttp skips log() altogether when the access logger would drop the line."""
        return self.logger.isEnabledFor(logging.INFO)
