"""Log lines in both formats, through real loggers and handlers, and the access log of a real
aiohttp server."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import warnings
from typing import Any, Iterator

import pytest
from aiohttp import ClientSession, web

from runtime.http.access_log import AccessLogger
from runtime.logs import ConsoleFormatter, JsonFormatter, configure_logging
from tests.support import wait_until

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONSOLE_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (?P<rest>.*)$")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What the `sprocket.test` logger writes; the formatter is the test's to set."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    logger = logging.getLogger("sprocket.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield output
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def _use(formatter: logging.Formatter) -> logging.Logger:
    logger = logging.getLogger("sprocket.test")
    logger.handlers[-1].setFormatter(formatter)
    return logger


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging changes the root logger for the process; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines(stream: io.StringIO) -> None:
    logger = _use(JsonFormatter())
    logger.info("setup succeeded in %.1f s", 41.2)
    logger.warning("slow", extra={"prediction_id": "abc"})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("predict failed", extra={"prediction_id": "abc"})

    plain, with_id, failed = _json_lines(stream.getvalue())
    assert RFC3339_UTC.match(plain.pop("timestamp"))
    assert plain == {"severity": "INFO", "message": "setup succeeded in 41.2 s", "logger": "sprocket.test"}
    assert (with_id["severity"], with_id["prediction_id"]) == ("WARNING", "abc")
    assert failed["severity"] == "ERROR"
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert failed["exception"].endswith("ValueError: boom")


def test_json_lines_survive_odd_extras(stream: io.StringIO) -> None:
    _use(JsonFormatter()).info('a "quoted"\nmessage', extra={"prediction_id": object, "status": 200})
    [line] = _json_lines(stream.getvalue())
    assert (line["message"], line["prediction_id"], line["status"]) == ('a "quoted"\nmessage', str(object), 200)


def test_console_lines(stream: io.StringIO) -> None:
    logger = _use(ConsoleFormatter())
    logger.info("listening on %s", "http://127.0.0.1:5000")
    logger.error("predict failed", extra={"prediction_id": "abc"})
    first, second = stream.getvalue().splitlines()
    assert CONSOLE_LINE.match(first)["rest"] == "INFO sprocket.test: listening on http://127.0.0.1:5000"  # type: ignore[index]
    assert CONSOLE_LINE.match(second)["rest"] == "ERROR sprocket.test: predict failed [prediction=abc]"  # type: ignore[index]


@pytest.mark.parametrize("log_format", [None, "json", "anything-else"])
def test_configure_logging_defaults_to_json(
    root_logging: None, capsys: pytest.CaptureFixture[str], log_format: str | None
) -> None:
    configure_logging("warning", log_format)
    logging.getLogger("sprocket.server").info("not at this level")
    logging.getLogger("sprocket.server").warning("shown")
    [line] = _json_lines(capsys.readouterr().err)
    assert (line["severity"], line["message"], line["logger"]) == ("WARNING", "shown", "sprocket.server")


def test_configure_logging_console_twice_gives_one_line(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "console")
    configure_logging("DEBUG", "console")
    logging.getLogger("sprocket.server").debug("once")
    [line] = capsys.readouterr().err.splitlines()
    assert CONSOLE_LINE.match(line)["rest"] == "DEBUG sprocket.server: once"  # type: ignore[index]


def test_configure_logging_turns_warnings_into_log_lines(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", None)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("this package is deprecated", FutureWarning, stacklevel=1)
    [line] = _json_lines(capsys.readouterr().err)
    assert (line["severity"], line["logger"]) == ("WARNING", "py.warnings")
    assert "FutureWarning: this package is deprecated" in line["message"]


async def test_access_log_one_line_per_request(stream: io.StringIO) -> None:
    logger = _use(JsonFormatter())

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/hello", hello)
    # Wired as runtime/server.py would: an AppRunner given the access logger's class and logger.
    runner = web.AppRunner(app, access_log_class=AccessLogger, access_log=logger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/hello?secret=1") as response:
            assert await response.text() == "hello"
        # aiohttp logs after the response is written: it may come just after the client has it.
        await asyncio.to_thread(wait_until, stream.getvalue, 5, "an access log line")
    finally:
        await runner.cleanup()
    [line] = _json_lines(stream.getvalue())
    assert line["duration_ms"] >= 0
    assert line["bytes"] > 0
    assert {key: line[key] for key in ("severity", "logger", "method", "path", "status", "remote")} == {
        "severity": "INFO",
        "logger": "sprocket.test",
        "method": "GET",
        "path": "/hello",
        "status": 200,
        "remote": "127.0.0.1",
    }
    assert re.fullmatch(r"GET /hello 200 \d+\.\d ms \d+ B from 127\.0\.0\.1", line["message"])


def test_access_log_off_when_its_logger_drops_info() -> None:
    logger = logging.getLogger("sprocket.test.quiet")
    logger.setLevel(logging.WARNING)
    try:
        assert not AccessLogger(logger, "").enabled
    finally:
        logger.setLevel(logging.NOTSET)
