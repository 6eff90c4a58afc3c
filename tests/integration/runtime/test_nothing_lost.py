"""Every accepted prediction ends, and nothing a client does leaves a slot, a file or a prediction
behind: clients that hang up at awkward moments, outputs that cannot be returned, shutdown while a
restart waits, a worker the kernel has stopped."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from aiohttp import web

from tests.peers import Peer, respond
from tests.support import GatedPrediction, Server, wait_until
from tests.wire import request


def _rst_close(sock: socket.socket) -> None:
    """Hang up at once, with a reset: the server learns of it immediately."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _settled_ready(server: Server) -> bool:
    return (
        server.status() == "READY"
        and server.metric("sprocket_predictions_in_flight") == 0
        and server.metric("sprocket_predictions_queued") == 0
    )


def _files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


# ---------------------------------------------------------------- slots


def test_a_queued_client_hanging_up_as_the_slot_passes_to_it_leaves_no_slot_held(start_server, tmp_path: Path) -> None:
    """The race: the running prediction ends, its slot passes to the queued request, and that
    request's client hangs up in the same instant. Looped until the window was hit several times
    (the server logs each hit); after every attempt the replica must be READY with nothing held.
    The hang-up's delay homes in on the window: later when the queued request left the queue
    before the slot came, earlier when it got the slot and started."""
    server = start_server("fifo_gated", env={"SPROCKET_QUEUE_SIZE": "1"})
    server.wait_for_status("READY")
    hits = lambda: server.log().count("left the queue just as a slot was passed to it")
    started = lambda: sum(_counts(server).values())
    queued_body = json.dumps({"input": {"fifo": str(tmp_path / "missing")}}).encode()
    delay = 0.0005
    with ThreadPoolExecutor(1) as pool:
        for attempt in range(1000):
            hits_before, ended_before = hits(), started()
            fifo = tmp_path / f"fifo-{attempt}"
            os.mkfifo(fifo)
            running = pool.submit(server.predict, fifo=str(fifo))
            wait_until(lambda: server.status() == "BUSY", 10, "the first prediction to run")
            queued = socket.create_connection(("127.0.0.1", server.port))
            try:
                queued.sendall(request("POST", "/predictions", queued_body))
                wait_until(lambda: server.metric("sprocket_predictions_queued") == 1, 10, "the second request to queue")
                with open(fifo, "wb") as pipe:
                    pipe.write(b"x")  # predict() returns now
                time.sleep(max(0.0, delay + random.uniform(-0.0001, 0.0001)))
            finally:
                _rst_close(queued)
            assert running.result(30)["status"] == "succeeded"
            wait_until(lambda: _settled_ready(server), 10, f"READY with no slot held, attempt {attempt}")
            if hits() >= 5:
                break
            if hits() == hits_before:
                queued_ran = started() > ended_before + 1
                delay = delay * 0.8 if queued_ran else delay + 0.00005
    assert hits() >= 5, f"the race window was hit {hits()} times in {attempt + 1} attempts"
    assert server.predict(fifo=str(tmp_path / "missing"))["status"] == "failed"  # still takes work


def _counts(server: Server) -> dict[str, float]:
    return {
        status: float(value)
        for status, value in re.findall(
            r'^sprocket_predictions_total\{status="(\w+)"\} (\S+)$', server.get("/metrics").text, re.M
        )
    }


# ---------------------------------------------------------------- clients that hang up


def test_a_second_client_hanging_up_does_not_cancel_the_first_clients_prediction(start_server, tmp_path: Path) -> None:
    server = start_server("gated")
    server.wait_for_status("READY")
    body = {"input": {"entered": str(tmp_path / "entered"), "release": str(tmp_path / "release")}}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(server.put, "/predictions/shared", json=body)
        wait_until((tmp_path / "entered").exists, 10, "the prediction to start")
        second = socket.create_connection(("127.0.0.1", server.port))
        second.sendall(request("PUT", "/predictions/shared", json.dumps(body).encode()))
        server.wait_for_log("a retried request attaches to the running prediction")
        _rst_close(second)
        server.wait_for_log("a client waiting for the prediction hung up")
        (tmp_path / "release").touch()
        answer = first.result(30)
    assert (answer.status_code, answer.json()["status"], answer.json()["output"]) == (200, "succeeded", "released")


def test_the_last_client_hanging_up_cancels_a_synchronous_prediction(start_server, tmp_path: Path) -> None:
    server = start_server("spin")
    server.wait_for_status("READY")
    client = socket.create_connection(("127.0.0.1", server.port))
    client.sendall(
        request("PUT", "/predictions/abandoned", json.dumps({"input": {"entered": str(tmp_path / "entered")}}).encode())
    )
    wait_until((tmp_path / "entered").exists, 10, "the prediction to start")
    _rst_close(client)
    wait_until(lambda: _settled_ready(server), 15, "the abandoned prediction to be cancelled")
    assert re.search(r'sprocket_predictions_total\{status="canceled"\} 1\.0', server.get("/metrics").text)


@pytest.mark.parametrize("hang_up_after", [0.0, 0.02, 0.05, 0.1, 0.3])
def test_a_client_hanging_up_while_its_data_url_is_written_leaves_no_file(
    start_server, tmp_path: Path, hang_up_after: float
) -> None:
    server = start_server("whereis", env={"TMPDIR": str(tmp_path)})
    server.wait_for_status("READY")
    payload = base64.b64encode(os.urandom(30 * 1024 * 1024)).decode()
    body = json.dumps({"input": {"source": f"data:application/octet-stream;base64,{payload}"}}).encode()
    client = socket.create_connection(("127.0.0.1", server.port))
    client.sendall(request("POST", "/predictions", body))
    time.sleep(hang_up_after)  # hang up at a different point of the request's handling each time
    _rst_close(client)
    wait_until(lambda: _settled_ready(server) and not _files_under(tmp_path), 15, "no file left behind")
    assert server.predict(source="data:text/plain;base64,aGk=")["output"]["content"] == "hi"
    wait_until(lambda: not _files_under(tmp_path), 15, "no file left behind after a prediction")


def test_a_queued_client_hanging_up_leaves_no_file(start_server, tmp_path: Path) -> None:
    server = start_server("gated", env={"TMPDIR": str(tmp_path), "SPROCKET_QUEUE_SIZE": "1"})
    server.wait_for_status("READY")
    gate = tmp_path / "gate"
    gate.mkdir()
    with GatedPrediction(server, gate):
        body = json.dumps(
            {
                "input": {
                    "entered": "x",
                    "release": "y",
                    "source": "data:text/plain;base64," + base64.b64encode(b"q" * 4096).decode(),
                }
            }
        )
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(request("POST", "/predictions", body.encode()))
        wait_until(lambda: server.metric("sprocket_predictions_queued") == 1, 10, "the request to queue")
        workdirs = [path for path in _files_under(tmp_path) if path.parent.parent.name.startswith("sprocket-work-")]
        assert len(workdirs) == 1, "the queued request's data URL is written while it waits"
        _rst_close(client)
        wait_until(lambda: server.metric("sprocket_predictions_queued") == 0, 10, "the request to leave the queue")
        wait_until(lambda: not workdirs[0].exists(), 10, "the queued request's file to go")


# ---------------------------------------------------------------- outputs that cannot be returned


@pytest.fixture
def uploads(peer: Peer) -> Iterator[tuple[Peer, threading.Event]]:
    """A peer taking PUT /up/*; the first upload is answered only once `release` is set."""
    release = threading.Event()
    first = threading.Event()

    async def put(request: web.Request) -> web.Response:
        await request.read()
        if not first.is_set():
            first.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
        return web.Response(status=201)

    for name in ("a.txt", "b.txt", "a_b.txt"):
        peer.on("PUT", f"/up/{name}", put)
    yield peer, release
    release.set()


def test_an_output_file_that_vanishes_before_it_is_uploaded_fails_the_prediction(
    start_server, peer: Peer, uploads: tuple[Peer, threading.Event], tmp_path: Path
) -> None:
    hook = peer.on("POST", "/hook", respond(200))
    server = start_server("output_files", env={"TMPDIR": str(tmp_path)}, args=["--upload-url", peer.url + "/up/"])
    server.wait_for_status("READY")
    _, release = uploads
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.post, "/predictions", json={"input": {}, "webhook": hook})
        peer.wait_for("/up/a.txt", lambda r: len(r) == 1, "the first upload")
        # predict() returned both files: the second goes while the first upload is held.
        [second] = list(tmp_path.rglob("b.txt"))
        second.unlink()
        release.set()
        body = answer.result(30).json()
    assert body["status"] == "failed"
    assert body["error"].startswith("output file b.txt could not be returned: FileNotFoundError"), body["error"]
    hooks = peer.wait_for("/hook", lambda r: any(h.json["status"] != "processing" for h in r), "the completed webhook")
    assert hooks[-1].json["status"] == "failed"
    assert server.status() == "READY"


def test_an_output_file_name_no_header_can_carry_is_uploaded_under_a_safe_name(
    start_server, peer: Peer, uploads: tuple[Peer, threading.Event]
) -> None:
    server = start_server("output_files")
    server.wait_for_status("READY")
    _, release = uploads
    release.set()
    body = server.post(
        "/predictions", json={"input": {"names": "a\nb.txt"}, "output_file_prefix": peer.url + "/up/"}
    ).json()
    assert (body["status"], body["output"]) == ("succeeded", [peer.url + "/up/a_b.txt"]), body
    [upload] = peer.requests_to("/up/a_b.txt")
    assert b'filename="a_b.txt"' in upload.body


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("bad_id", ["a\nb", "a\rb", "a\x00b", "tab\there", "x" * 257])
def test_an_id_with_control_characters_or_too_long_is_refused(start_server, bad_id: str) -> None:
    server = start_server("hello")
    server.wait_for_status("READY")
    in_body = server.post("/predictions", json={"id": bad_id, "input": {}})
    assert in_body.status_code == 422
    assert in_body.json()["detail"][0]["loc"] == ["body", "id"]
    in_url = server.put(
        "/predictions/" + "".join(f"%{ord(c):02X}" if ord(c) < 32 else c for c in bad_id), json={"input": {}}
    )
    assert in_url.status_code == 422
    assert in_url.json()["detail"][0]["loc"] == ["path", "prediction_id"]
    assert server.predict()["status"] == "succeeded"


# ---------------------------------------------------------------- the worker and shutdown


def test_shutdown_does_not_wait_for_a_restart_back_off(start_server) -> None:
    server = start_server("crash", env={"SPROCKET_RESTART_POLICY": "on-failure", "SPROCKET_RESTART_BACKOFF": "60"})
    server.wait_for_status("READY")
    assert server.predict(how="exit")["status"] == "failed"
    wait_until(lambda: server.health()["restart_pending"], 10, "a restart to be pending")
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(timeout=15) == 0
    assert time.monotonic() - started < 15  # not the 60 s back-off


def test_a_running_async_prediction_is_canceled_when_the_grace_period_ends(start_server, tmp_path: Path) -> None:
    server = start_server("async_sleep", env={"SPROCKET_SHUTDOWN_GRACE": "1"})
    server.wait_for_status("READY")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.predict, name="long", seconds=120, entered=str(tmp_path / "entered"))
        wait_until((tmp_path / "entered").exists, 10, "the prediction to start")
        server.signal(signal.SIGTERM)
        body = answer.result(30)
    assert body["status"] == "canceled", body
    assert server.wait_exit(timeout=15) == 0
    assert "SIGKILL" not in server.log()


def test_a_worker_the_kernel_has_stopped_is_killed_and_its_prediction_fails(start_server, tmp_path: Path) -> None:
    server = start_server("gated", env={"SPROCKET_WATCH_INTERVAL": "0.2"})
    server.wait_for_status("READY")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.predict, entered=str(tmp_path / "entered"), release=str(tmp_path / "release"))
        wait_until((tmp_path / "entered").exists, 10, "the prediction to start")
        server.worker().send_signal(signal.SIGSTOP)
        body = answer.result(30)
    assert body["status"] == "failed"
    assert "worker was stopped for" in body["error"] and "could not make progress" in body["error"]
    health = server.wait_for_status("FAILED")
    assert "worker was stopped" in health["error"]
    assert server.get("/livez").status_code == 503
    # The server's log says whose SIGKILL ended the worker, not the usual guess at memory.
    assert "worker killed by SIGKILL, sent by the supervisor" in server.log()
    assert "out of memory?" not in server.log()


def test_the_listen_backlog_is_the_one_the_server_declares(start_server) -> None:
    from runtime.listen import BACKLOG

    server = start_server("hello")
    server.wait_for_status("READY")
    out = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, check=True).stdout
    [line] = out.splitlines()
    assert int(line.split()[2]) == BACKLOG  # Send-Q of a listening socket is its backlog
