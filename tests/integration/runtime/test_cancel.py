"""Cancellation, client disconnects and timeouts."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import module_server
from tests.peers import Peer, respond
from tests.support import Server, wait_until

spin = module_server("spin")
async_sleep = module_server("async_sleep")


def _start_async(server: Server, prediction_id: str, **inputs: object) -> None:
    response = server.put(f"/predictions/{prediction_id}", json={"input": inputs}, headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.text


def test_cancel_interrupts_a_sync_predict_spinning_in_python(spin: Server, tmp_path: Path) -> None:
    entered = tmp_path / "entered"
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(spin.put, "/predictions/spin-1", json={"input": {"entered": str(entered)}})
        wait_until(entered.exists, 10, "predict() to start spinning")
        cancel = spin.post("/predictions/spin-1/cancel")
        assert (cancel.status_code, cancel.json()) == (200, {})
        body = running.result(10).json()
    assert body["status"] == "canceled" and body["error"] is None and body["completed_at"]
    assert spin.status() == "READY"
    assert spin.post("/predictions/spin-1/cancel").status_code == 404


def test_cancel_of_an_async_prediction_cancels_its_task(async_sleep: Server, tmp_path: Path, peer: Peer) -> None:
    entered = tmp_path / "entered"
    url = peer.on("POST", "/done", respond(200))
    response = async_sleep.put(
        "/predictions/a-1",
        json={
            "input": {"name": "a", "entered": str(entered), "seconds": 30},
            "webhook": url,
            "webhook_events_filter": ["completed"],
        },
        headers={"Prefer": "respond-async"},
    )
    assert response.status_code == 202
    wait_until(entered.exists, 10, "the async predict() to start")
    assert async_sleep.post("/predictions/a-1/cancel").status_code == 200
    [hook] = peer.wait_for("/done", lambda r: len(r) == 1, "the completed webhook")
    assert hook.json["status"] == "canceled"
    assert hook.json["logs"] == "a begins\n"


def test_a_client_that_hangs_up_cancels_its_sync_prediction(spin: Server, tmp_path: Path, peer: Peer) -> None:
    entered = tmp_path / "entered"
    url = peer.on("POST", "/hangup", respond(200))
    body = json.dumps(
        {"input": {"entered": str(entered)}, "webhook": url, "webhook_events_filter": ["completed"]}
    ).encode()
    with socket.create_connection(("127.0.0.1", spin.port)) as client:
        client.sendall(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        wait_until(entered.exists, 10, "predict() to start")
    [hook] = peer.wait_for("/hangup", lambda r: len(r) == 1, "the completed webhook")
    assert hook.json["status"] == "canceled"
    assert spin.status() == "READY"


def test_a_predictor_that_swallows_the_cancel_gets_a_new_worker(start_server, tmp_path: Path) -> None:
    server: Server = start_server("swallow_cancel", env={"SPROCKET_CANCEL_GRACE": "1"})
    server.wait_for_status("READY")
    first_worker = server.worker().pid
    entered = tmp_path / "entered"
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(server.put, "/predictions/stubborn", json={"input": {"entered": str(entered)}})
        wait_until(entered.exists, 10, "predict() to start")
        assert server.post("/predictions/stubborn/cancel").status_code == 200
        body = running.result(15).json()
    assert body["status"] == "canceled"
    server.wait_for_log("did not stop within 1.0 s of being cancelled; worker killed")
    server.wait_for_log("FAILED -> STARTING")
    server.wait_for_status("READY")
    assert server.worker().pid != first_worker


def test_predict_timeout_fails_the_prediction_naming_the_limit(start_server, tmp_path: Path) -> None:
    server: Server = start_server("spin", env={"SPROCKET_PREDICT_TIMEOUT": "0.5"})
    server.wait_for_status("READY")
    body = server.predict(entered=str(tmp_path / "entered"))
    assert body["status"] == "failed"
    assert body["error"] == "prediction timed out after 0.5 s (SPROCKET_PREDICT_TIMEOUT)"
    assert server.status() == "READY"


def test_setup_timeout_is_setup_failed_naming_the_limit(start_server, tmp_path: Path) -> None:
    server: Server = start_server(
        "slow_setup", env={"COG_SETUP_TIMEOUT": "0.5", "RELEASE_SETUP": str(tmp_path / "never")}
    )
    health = server.wait_for_status("SETUP_FAILED")
    assert health["error"] == "setup timed out after 0.5 s (COG_SETUP_TIMEOUT)"
    assert "setup waiting" in health["setup"]["logs"]
