"""The server's log lines: one JSON object per line by default, for log collectors, or readable
lines with LOG_FORMAT=console.

No aiohttp here: the front configures logging before it starts the worker, and importing aiohttp
that early would delay the worker by the whole import (the access log is in runtime.http).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

# Attributes a record may carry (through `extra=`) that the JSON lines include as keys.
EXTRA_KEYS = ("prediction_id", "method", "path", "status", "duration_ms", "remote", "bytes")

_encode = msgspec.json.Encoder(enc_hook=str).encode  # str(): an odd extra must not lose the line


class JsonFormatter(logging.Formatter):
    """`{"timestamp": "2026-11-22T01:02:03.456Z", "severity": "INFO", "message": ..., "logger": ...}`,
    plus the EXTRA_KEYS a record has and `exception` (the traceback) when it has one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key in EXTRA_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()


class ConsoleFormatter(logging.Formatter):
    """`2026-11-22 01:02:03.456 INFO sprocket.supervisor: message [prediction=abc]`, in UTC like
    the JSON lines, so both modes name the same moment the same way."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        prediction_id = record.__dict__.get("prediction_id")
        return f"{line} [prediction={prediction_id}]" if prediction_id is not None else line


def configure_logging(level: str, log_format: str | None) -> None:
    """Send every log record (and Python warnings) to stderr, as JSON unless `log_format` is
    "console". Replaces handlers set before, so calling it twice does not double the lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter() if log_format == "console" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a warning printed raw would break the one-object-per-line stream
