"""SIGTERM and POST /shutdown: running predictions finish, new ones get 503, exit 0."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support import GatedPrediction, Server


def test_sigterm_lets_the_running_prediction_finish_then_exits_0(start_server, tmp_path: Path) -> None:
    server: Server = start_server("gated")
    server.wait_for_status("READY")
    with GatedPrediction(server, tmp_path) as running:
        server.signal(signal.SIGTERM)
        server.wait_for_log("shutting down")
        refused = server.post("/predictions", json={"input": {"entered": "a", "release": "b"}})
        assert refused.status_code == 503
        assert "shutting down" in refused.json()["detail"]
        assert running.release()["output"] == "released"
    assert server.wait_exit() == 0


def test_await_explicit_shutdown_ignores_sigterm_until_post_shutdown(start_server) -> None:
    server: Server = start_server("hello", args=["--await-explicit-shutdown", "true"])
    server.wait_for_status("READY")
    server.signal(signal.SIGTERM)
    server.wait_for_log("ignoring it until POST /shutdown")
    assert server.predict(text="still here")["output"] == "hello still here"
    assert server.post("/shutdown").json() == {}
    assert server.wait_exit() == 0


def test_await_explicit_shutdown_false_means_false(start_server) -> None:
    server: Server = start_server("hello", args=["--await-explicit-shutdown", "false"])
    server.wait_for_status("READY")
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
