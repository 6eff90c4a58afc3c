"""Faults, with real processes: every accepted prediction reaches a terminal status and its
webhook, and the server keeps answering and tells the truth about its state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.peers import Peer, respond, respond_in_turn
from tests.support import REPO, Server, wait_until
from tests.wire import SSE, read_events


def test_worker_sigkill_ends_sync_async_and_sse_predictions(peer: Peer, start_server, tmp_path: Path) -> None:
    server: Server = start_server("async_stream", env={"COG_MAX_CONCURRENCY": "3"})
    server.wait_for_status("READY")
    hook = peer.on("POST", "/done", respond(200))
    entered = {kind: tmp_path / kind for kind in ("sync", "async", "sse")}

    def sync_client() -> dict:
        return server.post("/predictions", json={"input": {"entered": str(entered["sync"])}}).json()

    def sse_client() -> list:
        with requests.post(
            server.url + "/predictions",
            json={"input": {"entered": str(entered["sse"])}},
            headers=SSE,
            stream=True,
            timeout=30,
        ) as response:
            return list(read_events(response))

    with ThreadPoolExecutor(2) as pool:
        sync = pool.submit(sync_client)
        sse = pool.submit(sse_client)
        accepted = server.put(
            "/predictions/async-1",
            json={"input": {"entered": str(entered["async"])}, "webhook": hook, "webhook_events_filter": ["completed"]},
            headers={"Prefer": "respond-async"},
        )
        assert accepted.status_code == 202
        wait_until(lambda: all(p.exists() for p in entered.values()), 15, "all three predictions to run")
        server.worker().send_signal(signal.SIGKILL)
        sync_body, events = sync.result(30), sse.result(30)
    reason = "prediction failed: worker killed by SIGKILL (out of memory?)"
    assert (sync_body["status"], sync_body["error"]) == ("failed", reason)
    assert events[-1][1] == "completed" and events[-1][2]["status"] == "failed"
    [done] = peer.wait_for("/done", lambda r: len(r) == 1, "the async prediction's completed webhook")
    assert (done.json["id"], done.json["status"], done.json["error"]) == ("async-1", "failed", reason)
    assert server.health()["status"] == "FAILED"


def test_front_sigkill_leaves_no_worker_zombie_or_ipc_files(tmp_path: Path) -> None:
    # A child subreaper of our own adopts the orphaned worker, so we can see it exit and reap it.
    script = Path(__file__).parent / "kill_front.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["worker_exit_seconds"] < 2.0
    assert report["worker_status"] == "killed by SIGKILL"  # the parent-death signal
    assert report["leftover"] == []


def test_sigterm_under_load_finishes_in_flight_refuses_new_and_exits_0(start_server, tmp_path: Path) -> None:
    server: Server = start_server("async_sleep", env={"COG_MAX_CONCURRENCY": "3", "SPROCKET_SHUTDOWN_GRACE": "20"})
    server.wait_for_status("READY")
    markers = [tmp_path / f"entered-{i}" for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        running = [
            pool.submit(server.predict, name=f"p{i}", entered=str(m), seconds=1.5) for i, m in enumerate(markers)
        ]
        wait_until(lambda: all(m.exists() for m in markers), 15, "three predictions in flight")
        server.signal(signal.SIGTERM)
        server.wait_for_log("shutting down")
        refused = server.post("/predictions", json={"input": {"name": "late"}})
        assert refused.status_code == 503
        assert [f.result(30)["status"] for f in running] == ["succeeded"] * 3
    assert server.wait_exit(timeout=20) == 0


def test_a_receiver_answering_500_gets_bounded_retries_and_holds_up_nothing(peer: Peer, start_server) -> None:
    url = peer.on("POST", "/broken", respond_in_turn(500))
    server: Server = start_server("hello", env={"SPROCKET_WEBHOOK_RETRIES": "3"})
    server.wait_for_status("READY")
    body = server.post("/predictions", json={"input": {}, "webhook": url, "webhook_events_filter": ["completed"]})
    assert body.json()["status"] == "succeeded"
    for word in ("a", "b", "c"):
        assert server.predict(text=word)["output"] == f"hello {word}"
        assert server.status() == "READY"
    peer.wait_for("/broken", lambda r: len(r) == 4, "one attempt and three retries")
    server.wait_for_log("after 4 attempt(s); giving up")


def test_a_predictor_flooding_stdout_keeps_the_server_responsive(start_server) -> None:
    server: Server = start_server("flood", env={"SPROCKET_MAX_LOG_BYTES": "1000000"})
    server.wait_for_status("READY")
    with ThreadPoolExecutor(1) as pool:
        flooding = pool.submit(server.predict, mb=100)
        health = []
        while not flooding.done() and len(health) < 200:
            health.append(requests.get(server.url + "/health-check", timeout=2).json()["status"])
        body = flooding.result(120)
    assert body["status"] == "succeeded" and body["output"] == "flooded"
    assert health and set(health) <= {"BUSY", "READY"}
    assert len(body["logs"]) < 1_100_000
    assert (
        body["logs"].startswith("[") and "characters of earlier output dropped (SPROCKET_MAX_LOG_BYTES)" in body["logs"]
    )
    assert body["logs"].endswith("x" * 1023 + "\n")
