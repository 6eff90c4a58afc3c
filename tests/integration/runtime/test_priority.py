"""The worker steps aside for the front: it runs SPROCKET_WORKER_NICE steps nicer, and so do the
threads the predictor starts, so a CPU-bound predict() does not slow the health checks."""

from __future__ import annotations

import psutil

from tests.support import Server


def _nice_values(server: Server) -> tuple[int, set[int]]:
    worker = server.worker()
    threads = {psutil.Process(thread.id).nice() for thread in worker.threads()}
    return psutil.Process(server.process.pid).nice(), threads


def test_the_worker_and_its_threads_are_nicer_than_the_front(start_server) -> None:
    server = start_server("hello", env={"SPROCKET_WORKER_NICE": "7"})
    server.wait_for_status("READY")
    front, worker_threads = _nice_values(server)
    assert front + 7 in worker_threads  # the main thread, and every thread started after it


def test_nice_0_leaves_the_worker_as_the_front(start_server) -> None:
    server = start_server("hello", env={"SPROCKET_WORKER_NICE": "0"})
    server.wait_for_status("READY")
    front, worker_threads = _nice_values(server)
    assert worker_threads == {front}
