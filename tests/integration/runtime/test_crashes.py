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


def test_a_prediction_sent_just_after_the_worker_died_is_refused_naming_the_exit(start_server) -> None:
    """The front reads a dead worker's last events for a moment before the state moves to FAILED.
    A prediction arriving then was taken and failed at once with a stale reason ("prediction
    failed: a prediction slot is free"), an HTTP 200 a gateway does not retry although nothing
    ran. It must be the 503 refusal every other request to a failed worker gets."""
    server: Server = start_server("hello")
    server.wait_for_status("READY")
    worker = server.worker()
    worker.kill()
    # Reaped: the front has seen the exit (it waits on the worker's pidfd).
    wait_until(lambda: not psutil.pid_exists(worker.pid), 5, "the front to reap the killed worker", interval=0.001)
    response = server.post("/predictions", json={"input": {"text": "late"}})
    assert response.status_code == 503, response.text
    assert response.json()["detail"] == "The worker has failed: worker killed by SIGKILL (out of memory?)"
    assert server.wait_for_status("FAILED")["error"] == "worker killed by SIGKILL (out of memory?)"


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
