"""A worker that dies fails its prediction with the reason; the front keeps answering.
A front that dies takes its worker with it."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from tests.support import Server, wait_until


@pytest.mark.parametrize(
    "how, reason",
    [
        ("exit", "worker exited with code 7"),
        ("sigkill", "worker killed by SIGKILL (out of memory?)"),
        ("segfault", "worker killed by SIGSEGV (segmentation fault)"),
    ],
)
def test_worker_death_fails_the_prediction_and_the_replica(start_server, how: str, reason: str) -> None:
    server: Server = start_server("crash")
    server.wait_for_status("READY")
    body = server.predict(how=how)
    assert body["status"] == "failed"
    assert body["error"] == f"prediction failed: {reason}"
    health = server.health()
    assert health["status"] == "FAILED"
    assert health["error"] == reason
    response = server.post("/predictions", json={"input": {"how": "none"}})
    assert response.status_code == 503
    assert reason in response.json()["detail"]
    assert server.process.poll() is None


def test_sys_exit_in_predict_is_an_ordinary_failure(start_server) -> None:
    server: Server = start_server("crash")
    server.wait_for_status("READY")
    body = server.predict(how="sys_exit")
    assert body["status"] == "failed"
    assert body["error"] == "SystemExit: predict() called sys.exit(3)"
    assert server.status() == "READY"
    assert server.predict(how="none")["output"] == "survived"


def test_worker_exits_within_two_seconds_of_the_front_being_killed(start_server) -> None:
    server: Server = start_server("hello")
    server.wait_for_status("READY")
    worker = server.worker()
    server.signal(signal.SIGKILL)
    server.wait_exit()
    killed_at = time.monotonic()
    wait_until(
        lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE,
        2.0,
        "the worker to exit after its front was killed",
    )
    assert time.monotonic() - killed_at < 2.0
