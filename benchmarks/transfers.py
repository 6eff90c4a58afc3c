"""Big files (issue 19, section 3): a `Path` output PUT to an upload URL, a `Path` input fetched
from a URL, and a `data:` URL larger than Sprocket's body limit.

`TransferPeer` is the other end on 127.0.0.1: `PUT /upload/{name}` reads the body as it comes and
throws it away (counting bytes, noting when the request arrived and when its last byte did),
`GET /files/{name}` serves a file with sendfile, as aiohttp's `FileResponse` does. Its view is the same
for every server, so "the upload itself" and "the download" are timed there; the end-to-end time
is the client's.
"""

from __future__ import annotations

import asyncio
import base64
import os
import select
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from benchmarks.load import Client
from benchmarks.loopback import LoopbackApp
from benchmarks.measure import Measured, MiB, Peers, Settings
from benchmarks.memory import PeakMemory, Peaks
from benchmarks.servers import RunningServer

_TRANSFER_DEADLINE = 600.0
_BLOCK = 8 * MiB


@dataclass
class Transfer:
    """One request at the peer: when it arrived, when its last body byte went or came, bytes."""

    started: float
    finished: float | None = None
    size: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


class TransferPeer(LoopbackApp):
    name = "transfer-peer"

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="bench-files-"))
        self.uploads: list[Transfer] = []
        self.downloads: list[Transfer] = []
        self._done = threading.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_put("/upload/{name}", self._upload)
        app.router.add_get("/files/{name}", self._download)

    async def _upload(self, request: web.Request) -> web.Response:
        transfer = Transfer(time.perf_counter())
        async for chunk in request.content.iter_any():
            transfer.size += len(chunk)
        transfer.finished = time.perf_counter()
        self.uploads.append(transfer)
        self._done.set()
        return web.Response(status=200)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = self.directory / request.match_info["name"]
        if not path.is_file() or request.transport is None:
            return web.Response(status=404)
        transfer = Transfer(time.perf_counter(), size=path.stat().st_size)
        # FileResponse's own steps (headers, sendfile on the transport, end), done here so the
        # handler sees the end: FileResponse sends in prepare(), which aiohttp would call again.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = transfer.size
        await response.prepare(request)
        with open(path, "rb") as file:
            await asyncio.get_running_loop().sendfile(request.transport, file, 0, transfer.size)
        await response.write_eof()
        transfer.finished = time.perf_counter()
        self.downloads.append(transfer)
        self._done.set()
        return response

    def file_of(self, size: int) -> str:
        """The URL of a file of `size` bytes (random blocks), made on first use."""
        name = f"random-{size}.bin"
        path = self.directory / name
        if not path.exists():
            block = os.urandom(_BLOCK)
            with open(path, "wb") as out:
                for offset in range(0, size, _BLOCK):
                    out.write(block[: min(_BLOCK, size - offset)])
        return f"{self.url}/files/{name}"

    def wait_for(self, transfers: list[Transfer], count: int, timeout: float) -> bool:
        """Wait until `transfers` holds `count` entries (the handler appends when it is done)."""
        deadline = time.monotonic() + timeout
        while len(transfers) < count and time.monotonic() < deadline:
            self._done.wait(0.05)
            self._done.clear()
        return len(transfers) >= count

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        shutil.rmtree(self.directory, ignore_errors=True)


def upload_url(peers: Peers) -> list[str]:
    """The flag that makes a server PUT output files to the peer (all three servers take it)."""
    return ["--upload-url", f"{peers.transfers.url}/upload/"]


def _memory_metrics(prefix: str, peaks: Peaks) -> dict[str, float | None]:
    return {f"{prefix}_front_mb": peaks.front_above_idle_mb, f"{prefix}_worker_mb": peaks.worker_above_idle_mb}


def file_size_env(settings: Settings) -> dict[str, str]:
    """The size the `file_output` predictor writes in setup()."""
    return {"BENCH_FILE_BYTES": str(settings.big_file_mib * MiB)}


def file_output(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """A prediction returning a `big_file_mib` MiB `Path`, uploaded to the peer.

    Asynchronous (`Prefer: respond-async`, a webhook) on every server: Cog 0.9.8 uploads output
    files only for async predictions (a sync one gets a data: URI). End to end is the POST to the
    terminal webhook; the upload is the PUT as the peer saw it.
    """
    out = Measured()
    size = settings.big_file_mib * MiB
    before = len(peers.transfers.uploads)
    client = Client(server.host, server.port, timeout=60.0)
    try:
        with PeakMemory(server) as peaks:
            cpu = server.cpu_seconds()
            posted = time.perf_counter()  # just before the POST: the webhook timing starts there too
            timing = peers.webhooks.prediction(client, {"input": {}}, first_wait=30.0, timeout=_TRANSFER_DEADLINE)
            cpu = server.cpu_seconds() - cpu
    finally:
        client.close()
    arrived = peers.transfers.wait_for(peers.transfers.uploads, before + 1, 10.0)
    upload = peers.transfers.uploads[-1] if arrived else None
    if upload is None or upload.size < size:
        out.notes.append(
            f"upload of {settings.big_file_mib} MiB: "
            f"{'none arrived' if upload is None else f'{upload.size} bytes arrived'}; {timing.note}"
        )
    else:
        out.metrics["upload_s"] = upload.seconds
        # Where the rest of the end-to-end time went: before the PUT arrived (the prediction, whose
        # predict() only links a file, and the server's work before the upload) and after its
        # last byte (until the terminal webhook).
        out.metrics["upload_before_s"] = upload.started - posted
        if upload.finished is not None and timing.completed is not None:
            out.metrics["upload_after_s"] = posted + timing.completed - upload.finished
        if upload.size != size:
            out.notes.append(f"upload body {upload.size} bytes for a {size}-byte file (multipart framing?)")
    out.metrics["upload_e2e_s"] = timing.completed
    out.metrics["upload_cpu_s"] = cpu
    predict_time = (timing.final.get("metrics") or {}).get("predict_time")
    out.metrics["upload_predict_s"] = predict_time if isinstance(predict_time, (int, float)) else None
    out.metrics.update(_memory_metrics("upload", peaks))
    output = timing.final.get("output")
    if not isinstance(output, str) or not output.startswith(peers.transfers.url):
        out.notes.append(f"output was not the upload URL: {str(output)[:80]}")
    return out


def file_url_input(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """A `Path` input given as an http:// URL to a `big_file_mib` MiB file on the peer; the
    predictor returns its size. The download as the peer saw it, and the POST end to end."""
    out = Measured()
    size = settings.big_file_mib * MiB
    url = peers.transfers.file_of(size)
    client = Client(server.host, server.port, timeout=_TRANSFER_DEADLINE)
    try:
        # One download first, unrecorded. In this VM a write into page-cache pages the guest has
        # not touched lately costs up to 10x the kernel time of one into pages just freed (perf:
        # copy_folio_from_iter_atomic, 40 % of the samples against 4 %). Whichever server
        # downloads first after another scenario pays it, and in the A B C order that was always
        # Sprocket: 0.6-2.0 s between repeats where Cog 0.9.8 and coglet, next, kept to 0.7-0.8.
        warmed = len(peers.transfers.downloads)
        client.post_json("/predictions", {"input": {"file": url}})
        peers.transfers.wait_for(peers.transfers.downloads, warmed + 1, 10.0)
        before = len(peers.transfers.downloads)
        with PeakMemory(server) as peaks:
            cpu = server.cpu_seconds()
            reply = client.post_json("/predictions", {"input": {"file": url}})
            cpu = server.cpu_seconds() - cpu
    finally:
        client.close()
    body = reply.json() if reply.status == 200 else {}
    if reply.status != 200 or body.get("output") != size:
        out.notes.append(
            f"URL input: HTTP {reply.status}, output {str(body.get('output'))[:80]}, "
            f"error {str(body.get('error'))[:200]}"
        )
        return out
    if peers.transfers.wait_for(peers.transfers.downloads, before + 1, 10.0):
        out.metrics["download_s"] = peers.transfers.downloads[-1].seconds
    out.metrics["download_e2e_s"] = reply.seconds
    out.metrics["download_cpu_s"] = cpu
    out.metrics.update(_memory_metrics("download", peaks))
    return out


def _post_and_read_status(host: str, port: int, head: bytes, body: bytes) -> tuple[int | None, str]:
    """Send `head`, then `body` 1 MiB at a time, stopping as soon as the server answers; (HTTP
    status or None, what happened). A server may answer 413 early and stop reading."""
    view = memoryview(body)
    with socket.create_connection((host, port), timeout=60.0) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < len(body):
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(view[sent : sent + MiB])
                sent = min(len(body), sent + MiB)
        except (BrokenPipeError, ConnectionResetError) as error:
            note = f"server closed after {sent} of {len(body)} body bytes ({type(error).__name__})"
        else:
            note = f"sent {sent} of {len(body)} body bytes"
        try:
            answer = sock.recv(4096)
        except (ConnectionResetError, TimeoutError) as error:
            return None, f"{note}; no answer ({type(error).__name__})"
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, f"{note}; {status_line or 'empty answer'}"


def oversize_data_url(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    """A `data:` URL input 1 MiB above Sprocket's default SPROCKET_MAX_BODY_BYTES (100 MiB): Sprocket
    must answer 413. Cog and coglet have no such limit; their status is reported as it comes."""
    out = Measured()
    encoded = base64.b64encode(os.urandom(76 * MiB))  # 101.3 MiB of base64
    body = b'{"input":{"file":"data:application/octet-stream;base64,' + encoded + b'"}}'
    head = (
        f"POST /predictions HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, note = _post_and_read_status(server.host, server.port, head, body)
    out.metrics["oversize_status"] = None if status is None else float(status)
    out.notes.append(f"{len(body) / MiB:.1f} MiB data: URL body: {note}")
    return out
