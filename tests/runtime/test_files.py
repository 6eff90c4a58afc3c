"""Input files from URLs, output files as data URIs or uploads, limits, and cleanup."""

from __future__ import annotations

import base64
import os
import threading
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


def test_data_uri_size_limit(files: Server) -> None:
    response = files.post("/predictions", json={"input": {
        "source": "data:text/plain;base64," + base64.b64encode(b"y" * 2000).decode()}})
    assert response.status_code == 422
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


def test_async_response_does_not_wait_for_the_download(files: Server, peer: Peer) -> None:
    release = threading.Event()
    try:
        url = peer.on("GET", "/held.txt", hang(release, seconds=10))
        hook = peer.on("POST", "/hook", respond(200))
        response = files.post("/predictions", json={"input": {"source": url}, "webhook": hook,
                                                    "webhook_events_filter": ["completed"]},
                              headers={"Prefer": "respond-async"})
        assert response.status_code == 202
        assert peer.requests_to("/hook") == []
        release.set()
        [done] = peer.wait_for("/hook", lambda r: len(r) == 1, "the completed webhook")
        assert done.json["output"] == "data:text/plain;base64," + base64.b64encode(b"LATE").decode()
    finally:
        release.set()


def test_a_prediction_cancelled_while_its_input_downloads_ends_canceled_without_running(
        files: Server, peer: Peer) -> None:
    release = threading.Event()
    try:
        url = peer.on("GET", "/cancel-me.txt", hang(release, seconds=10))
        hook = peer.on("POST", "/cancelled", respond(200))
        response = files.put("/predictions/dl-cancel", json={"input": {"source": url}, "webhook": hook,
                                                            "webhook_events_filter": ["completed"]},
                             headers={"Prefer": "respond-async"})
        assert response.status_code == 202
        peer.wait_for("/cancel-me.txt", lambda r: len(r) == 1, "the download to start")
        assert files.post("/predictions/dl-cancel/cancel").status_code == 200
        release.set()
        [done] = peer.wait_for("/cancelled", lambda r: len(r) == 1, "the completed webhook")
        assert done.json["status"] == "canceled"
        assert done.json["output"] is None  # predict() never ran: it would have returned a file
    finally:
        release.set()
    assert files.predict(text="next")["status"] == "succeeded"  # and its slot is free again


def test_a_prediction_whose_worker_dies_while_its_input_downloads_fails_naming_the_exit(
        start_server, peer: Peer) -> None:
    server: Server = start_server("files")
    server.wait_for_status("READY")
    release = threading.Event()
    try:
        url = peer.on("GET", "/outlived.txt", hang(release, seconds=10))
        hook = peer.on("POST", "/orphan", respond(200))
        response = server.post("/predictions", json={"input": {"source": url}, "webhook": hook,
                                                     "webhook_events_filter": ["completed"]},
                               headers={"Prefer": "respond-async"})
        assert response.status_code == 202
        peer.wait_for("/outlived.txt", lambda r: len(r) == 1, "the download to start")
        server.worker().kill()
        server.wait_for_status("FAILED")
        release.set()
        [done] = peer.wait_for("/orphan", lambda r: len(r) == 1, "the completed webhook")
    finally:
        release.set()
    assert done.json["status"] == "failed"
    assert done.json["error"] == "prediction failed: worker killed by SIGKILL (out of memory?)"


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


def test_failed_upload_fails_the_prediction(peer: Peer, start_server) -> None:
    peer.on("PUT", "/broken/result.txt", respond(500))
    server: Server = start_server("files", args=["--upload-url", peer.url + "/broken"])
    server.wait_for_status("READY")
    body = server.predict(text="x")
    assert body["status"] == "failed"
    assert body["error"].startswith("uploading output file result.txt failed after 3 attempts")


def test_output_file_prefix_puts_multipart(files: Server, peer: Peer) -> None:
    peer.on("PUT", "/legacy/result.txt", respond(200))
    body = files.post("/predictions", json={"input": {"text": "old"},
                                            "output_file_prefix": peer.url + "/legacy/"}).json()
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
# the next one must be made. Without file inputs a prediction starts on the fast path.
@pytest.mark.parametrize("predictor, inputs", [("outputs", {"kind": "path"}), ("files", {"text": "x"})],
                         ids=["fast path", "with file inputs"])
def test_a_working_directory_that_cannot_be_made_is_503_and_frees_the_slot(
        tmp_path: Path, start_server, predictor: str, inputs: dict[str, str]) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server: Server = start_server(predictor, env={"TMPDIR": str(scratch)})
    server.wait_for_status("READY")
    assert server.predict(**inputs)["status"] == "succeeded"
    wait_until(lambda: _files_under(scratch) == [], 10, "the first prediction's files to be removed")
    [pool] = scratch.iterdir()
    pool.rmdir()
    response = server.post("/predictions", json={"input": inputs})
    assert response.status_code == 503
    assert response.json()["detail"] == ("Could not make the prediction's working directory "
                                         "(No such file or directory); try again later")
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
