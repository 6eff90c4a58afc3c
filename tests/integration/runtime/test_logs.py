"""Everything predict() writes, from Python or from C, lands in that prediction's logs."""

from __future__ import annotations

from tests.conftest import module_server
from tests.support import Server

logs = module_server("logs")


def test_python_fd_and_c_output_are_all_captured(logs: Server) -> None:
    text = logs.predict(word="alpha")["logs"]
    for line in ("python stdout alpha", "python stderr alpha", "fd 1 alpha", "C printf alpha", "logging module alpha"):
        assert f"{line}\n" in text, (line, text)


def test_each_prediction_gets_only_its_own_logs(logs: Server) -> None:
    first = logs.predict(word="one")["logs"]
    second = logs.predict(word="two")["logs"]
    assert "one" in first and "two" not in first
    assert "two" in second and "one" not in second
