"""Input files from URLs, output files as data URIs or uploads, limits, and cleanup."""

from __future__ import annotations

import base64
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import module_server
from tests.peers import Peer, hang, respond
from tests.support import Server, wait_until

files = module_server("files", env={"SPROCKET_DOWNLOAD_MAX_BYTES": "1000", "SPROCKET_DOWNLOAD_TIMEOUT": "1"})


def test_http_input_is_downloaded_and_output_comes_back_as_data_uri(files: Server, peer: Peer) -> None:
    url = peer.on("GET", "/in/photo.txt", respond(200, b"abc"))
    body = files.predict(source=url)
    assert body["status"] == "succeeded", body
    assert body["output"] == "data:text/plain;base64," + base64.b64encode(b"ABC").decode()
    assert body["input"]["source"] == url


def test_failed_download_fails_the_prediction_naming_the_input(files: Server, peer: Peer) -> None:
    missing = peer.url + "/not-there.txt"
    body = files.predict(source=missing)
    assert body["status"] == "failed"
    assert body["error"] == f"input 'source': fetching {missing} failed: HTTP 404"


def test_download_size_limit(files: Server, peer: Peer) -> None:
    url = peer.on("GET", "/big.bin", respond(200, b"x" * 5000))
    body = files.predict(source=url)
    assert body["status"] == "failed"
    assert "more than the limit of 1000" in body["error"] and "SPROCKET_DOWNLOAD_MAX_BYTES" in body["error"]


def test_a_data_url_over_the_file_size_limit_is_413(files: Server) -> None:
    response = files.post(
        "/predictions", json={"input": {"source": "data:text/plain;base64," + base64.b64encode(b"y" * 2000).decode()}}
    )
    assert response.status_code == 413
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "input", "source"]
    assert error["msg"] == "the data URL holds 2000 bytes, more than the limit of 1000 (SPROCKET_DOWNLOAD_MAX_BYTES)"


def test_download_timeout(files: Server, peer: Peer) -> None:
    release = threading.Event()
    try:
        url = peer.on("GET", "/slow.txt", hang(release))
        body = files.predict(source=url)
    finally:
        release.set()
    assert body["status"] == "failed"
    assert body["error"] == "input 'source': download took longer than 1 s (SPROCKET_DOWNLOAD_TIMEOUT)"


def _held_download(
    server: Server, peer: Peer, release: threading.Event, name: str, path: str = "/predictions", method: str = "post"
) -> str:
    """Start an async prediction whose input download the peer holds until `release`; returns
    the path its `completed` webhook goes to, once the download has started."""
    url = peer.on("GET", f"/{name}.txt", hang(release, seconds=10))
    hook = peer.on("POST", f"/{name}-hook", respond(200))
    response = getattr(server, method)(
        path,
        json={"input": {"source": url}, "webhook": hook, "webhook_events_filter": ["completed"]},
        headers={"Prefer": "respond-async"},
    )
    assert response.status_code == 202
    peer.wait_for(f"/{name}.txt", lambda r: len(r) == 1, "the download to start")
    return f"/{name}-hook"


def _completed(peer: Peer, hook: str) -> dict[str, object]:
    [done] = peer.wait_for(hook, lambda r: len(r) == 1, "the completed webhook")
    return done.json


def test_async_response_does_not_wait_for_the_download(files: Server, peer: Peer) -> None:
    release = threading.Event()
    try:
        hook = _held_download(files, peer, release, "held")
        assert peer.requests_to(hook) == []
        release.set()
        assert _completed(peer, hook)["output"] == "data:text/plain;base64," + base64.b64encode(b"LATE").decode()
    finally:
        release.set()


def test_a_prediction_cancelled_while_its_input_downloads_ends_canceled_without_running(
    files: Server, peer: Peer
) -> None:
    release = threading.Event()
    try:
        hook = _held_download(files, peer, release, "cancel-me", path="/predictions/dl-cancel", method="put")
        assert files.post("/predictions/dl-cancel/cancel").status_code == 200
        release.set()
        done = _completed(peer, hook)
    finally:
        release.set()
    assert done["status"] == "canceled"
    assert done["output"] is None  # predict() never ran: it would have returned a file
    assert files.predict(text="next")["status"] == "succeeded"  # and its slot is free again


def test_a_prediction_whose_worker_dies_while_its_input_downloads_fails_naming_the_exit(
    start_server, peer: Peer
) -> None:
    server: Server = start_server("files")
    server.wait_for_status("READY")
    release = threading.Event()
    try:
        hook = _held_download(server, peer, release, "outlived")
        server.worker().kill()
        server.wait_for_status("FAILED")
        release.set()
        done = _completed(peer, hook)
    finally:
        release.set()
    assert done["status"] == "failed"
    assert done["error"] == "prediction failed: worker killed by SIGKILL (out of memory?)"


def test_upload_url_receives_the_file_and_the_response_holds_its_url(peer: Peer, start_server) -> None:
    peer.on("PUT", "/uploads/result.txt", respond(201, headers={"Location": "/files/result.txt?sig=1"}))
    server: Server = start_server("files", args=["--upload-url", peer.url + "/uploads/"])
    server.wait_for_status("READY")
    body = server.post("/predictions", json={"id": "up-1", "input": {"text": "hi"}}).json()
    assert body["output"] == peer.url + "/files/result.txt"
    [upload] = peer.requests_to("/uploads/result.txt")
    assert upload.body == b"HI"
    assert upload.headers["X-Prediction-ID"] == "up-1"
    assert upload.headers["Content-Type"] == "text/plain"


def test_the_next_prediction_waits_until_the_output_file_is_returned(peer: Peer, start_server, tmp_path: Path) -> None:
    """Many Cog predictors write every output to one path (/tmp/out.png). While one prediction's
    file is being uploaded, the next prediction must not start and write over it: the slot stays
    taken until the prediction has ended."""
    release = threading.Event()
    peer.on("PUT", "/up/out.txt", hang(release))
    server: Server = start_server(
        "one_output_path", env={"SPROCKET_QUEUE_SIZE": "1"}, args=["--upload-url", peer.url + "/up/"]
    )
    server.wait_for_status("READY")
    out = tmp_path / "out.txt"
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(server.predict, text="first", path=str(out))
            peer.wait_for("/up/out.txt", lambda r: len(r) == 1, "the first upload")
            second = pool.submit(server.predict, text="second", path=str(out))
            wait_until(lambda: server.metric("sprocket_predictions_queued") == 1, 10, "the second prediction to queue")
            assert server.status() == "BUSY"
            assert out.read_text() == "first"
            release.set()
            bodies = [first.result(30), second.result(30)]
    finally:
        release.set()
    assert [body["status"] for body in bodies] == ["succeeded", "succeeded"], bodies
    assert [upload.body for upload in peer.requests_to("/up/out.txt")] == [b"first", b"second"]


def test_failed_upload_fails_the_prediction(peer: Peer, start_server) -> None:
    peer.on("PUT", "/broken/result.txt", respond(500))
    server: Server = start_server("files", args=["--upload-url", peer.url + "/broken"])
    server.wait_for_status("READY")
    body = server.predict(text="x")
    assert body["status"] == "failed"
    assert body["error"].startswith("uploading output file result.txt failed after 3 attempts")


def test_output_file_prefix_puts_multipart(files: Server, peer: Peer) -> None:
    peer.on("PUT", "/legacy/result.txt", respond(200))
    body = files.post(
        "/predictions", json={"input": {"text": "old"}, "output_file_prefix": peer.url + "/legacy/"}
    ).json()
    assert body["output"] == peer.url + "/legacy/result.txt"
    [upload] = peer.requests_to("/legacy/result.txt")
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert b"OLD" in upload.body


def test_body_over_the_limit_is_413(start_server) -> None:
    server: Server = start_server("hello", env={"SPROCKET_MAX_BODY_BYTES": "1000"})
    server.wait_for_status("READY")
    response = server.post("/predictions", json={"input": {"text": "x" * 2000}})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large")


def _files_under(root: Path) -> list[str]:
    return sorted(os.path.join(top, name) for top, _, names in os.walk(root) for name in names)


# Both predictors leave a file in each prediction's directory, so it is removed, not kept, and
# the next one must be made.
@pytest.mark.parametrize(
    "predictor, inputs",
    [("outputs", {"kind": "path"}), ("files", {"text": "x"})],
    ids=["without file inputs", "with file inputs"],
)
def test_a_working_directory_that_cannot_be_made_is_503_and_frees_the_slot(
    tmp_path: Path, start_server, predictor: str, inputs: dict[str, str]
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server: Server = start_server(predictor, env={"TMPDIR": str(scratch)})
    server.wait_for_status("READY")
    assert server.predict(**inputs)["status"] == "succeeded"
    [pool] = scratch.iterdir()
    wait_until(lambda: not any(pool.iterdir()), 10, "the first prediction's directory to be removed")
    pool.rmdir()
    response = server.post("/predictions", json={"input": inputs})
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "Could not make the prediction's working directory (No such file or directory); try again later"
    )
    pool.mkdir()
    assert server.predict(**inputs)["status"] == "succeeded"


def test_a_thousand_predictions_leave_no_files_and_shutdown_leaves_nothing(tmp_path: Path, start_server) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server: Server = start_server("files", env={"TMPDIR": str(scratch)})
    server.wait_for_status("READY")
    source = "data:text/plain;base64," + base64.b64encode(b"in").decode()
    for _ in range(1000):
        assert server.predict(source=source)["status"] == "succeeded"
        assert server.predict(text="no input file")["status"] == "succeeded"
    # Removal runs in the background once each response is out; emptied directories are kept
    # for reuse, a few at most.
    wait_until(lambda: _files_under(scratch) == [], 10, "the predictions' files to be removed")
    directories = [top for top, _, _ in os.walk(scratch)]
    assert len(directories) <= 1 + 1 + 16, directories  # scratch, the pool's root, its directories
    server.stop()
    assert list(scratch.iterdir()) == []
