"""Async predictors running several predictions at once; the optional queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import module_server
from tests.support import GatedPrediction, Server, wait_until

concurrent = module_server("async_sleep", env={"COG_MAX_CONCURRENCY": "3"})


def test_up_to_max_concurrency_run_at_once_with_their_own_logs(concurrent: Server, tmp_path: Path) -> None:
    markers = [tmp_path / f"entered-{i}" for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        running = [
            pool.submit(concurrent.predict, name=f"p{i}", entered=str(m), seconds=1.0) for i, m in enumerate(markers)
        ]
        wait_until(lambda: all(m.exists() for m in markers), 10, "three predictions running at once")
        assert concurrent.status() == "BUSY"
        fourth = concurrent.post("/predictions", json={"input": {"name": "p3"}})
        assert fourth.status_code == 409
        results = [f.result(30) for f in running]
    for i, body in enumerate(results):
        assert body["output"] == f"p{i}"
        assert body["logs"] == f"p{i} begins\np{i} ends\n"
    assert concurrent.status() == "READY"


def test_queued_requests_wait_for_a_slot_in_order(start_server, tmp_path: Path) -> None:
    server: Server = start_server("gated", env={"SPROCKET_QUEUE_SIZE": "2", "SPROCKET_QUEUE_TIMEOUT": "20"})
    server.wait_for_status("READY")
    release = tmp_path / "release"
    entered = [tmp_path / f"entered-{i}" for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(server.predict, entered=str(entered[0]), release=str(release))
        wait_until(entered[0].exists, 10, "the first prediction to run")
        queued = [pool.submit(server.predict, entered=str(entered[i]), release=str(release)) for i in (1, 2)]
        server.wait_for_log("waiting for a slot (2 queued)")
        overflow = server.post("/predictions", json={"input": {"entered": "x", "release": "y"}})
        assert overflow.status_code == 409  # the queue is full
        release.touch()
        assert [f.result(30)["status"] for f in [first, *queued]] == ["succeeded"] * 3


def test_queue_timeout_is_503_with_retry_after(start_server, tmp_path: Path) -> None:
    server: Server = start_server("gated", env={"SPROCKET_QUEUE_SIZE": "1", "SPROCKET_QUEUE_TIMEOUT": "0.5"})
    server.wait_for_status("READY")
    with GatedPrediction(server, tmp_path) as first:
        waited = server.post("/predictions", json={"input": {"entered": "x", "release": "y"}})
        assert waited.status_code == 503
        assert waited.headers["Retry-After"] == "1"
        assert "SPROCKET_QUEUE_TIMEOUT" in waited.json()["detail"]
        assert first.release()["status"] == "succeeded"
