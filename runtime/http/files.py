"""Files crossing the HTTP boundary: input URLs become local files, output files become data URIs
or uploads.

Disk reads and writes run in threads, off the event loop. Input files are written into the
prediction's own directory under names that cannot escape it. Uploads stream from disk.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import tenacity

from runtime import data_url
from runtime.ipc.messages import OutputFile, PredictorSpec

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100
# Files move in pieces this large: a piece is one hop to a thread for the disk, and the HTTP
# client's buffer (PredictionService's session) is as large, so it seldom pauses the socket.
IO_CHUNK = 4 * 1024 * 1024
_UPLOAD_ATTEMPTS = 3
_UPLOAD_BACKOFF_FIRST = 0.4  # seconds, doubling


class InputFileError(Exception):
    """An input file could not be fetched or decoded; the message names the input and why."""


class DataUrlRejected(Exception):
    """A data URL input that cannot become a file: too large (413) or not decodable (422)."""

    def __init__(self, name: str, position: int | None, error: data_url.DataUrlError) -> None:
        too_large = isinstance(error, data_url.TooLarge)
        self.status = 413 if too_large else 422
        loc = ["body", "input", name, *([] if position is None else [position])]
        message = f"{error} (SPROCKET_DOWNLOAD_MAX_BYTES)" if too_large else str(error)
        self.errors = [{"loc": loc, "msg": message, "type": "value_error.url"}]
        super().__init__(message)


class OutputFileError(Exception):
    """An output file could not be uploaded; the message says where and why."""


def safe_file_name(name: str, fallback: str) -> str:
    """A file name with no directory parts, no NUL, no leading dots, at most 100 characters."""
    base = _UNSAFE_NAME.sub("_", os.path.basename(name)).lstrip(".")
    if len(base) > _MAX_NAME:
        stem, ext = os.path.splitext(base)
        base = stem[: _MAX_NAME - len(ext[:20])] + ext[:20]
    return base or fallback


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int
    timeout: float


def _write_data_url(url: str, directory: str, prefix: str, max_bytes: int) -> str:
    header = data_url.parse_header(url)
    assert header is not None  # checked when the request was validated
    path = os.path.join(directory, f"{prefix}-input{mimetypes.guess_extension(header.media_type) or ''}")
    with open(path, "wb") as file:
        data_url.write(url, file, max_bytes)
    return path


async def _download(session: aiohttp.ClientSession, url: str, path: str, limits: DownloadLimits) -> None:
    timeout = aiohttp.ClientTimeout(total=limits.timeout)
    async with session.get(url, timeout=timeout) as response:
        if response.status >= 400:
            raise InputFileError(f"fetching {url} failed: HTTP {response.status}")
        if response.content_length is not None and response.content_length > limits.max_bytes:
            raise InputFileError(
                f"{url} is {response.content_length} bytes, more than the limit of "
                f"{limits.max_bytes} (SPROCKET_DOWNLOAD_MAX_BYTES)"
            )
        size = 0
        file = await asyncio.to_thread(open, path, "wb")
        try:
            async for chunk in response.content.iter_chunked(IO_CHUNK):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise InputFileError(
                        f"{url} is larger than the limit of {limits.max_bytes} bytes (SPROCKET_DOWNLOAD_MAX_BYTES)"
                    )
                await asyncio.to_thread(file.write, chunk)
        finally:
            await asyncio.to_thread(file.close)


class InputFiles:
    """Turns the URL values of Path and File inputs into local paths inside a directory.

    Data URLs are decoded first (`write_data_urls`), before the prediction is admitted, so a
    payload that does not decode is the client's 422; http(s) URLs are fetched after admission
    (`download`), all of a request's at once, and a failure fails the prediction.
    """

    def __init__(self, spec: PredictorSpec) -> None:
        self.file_inputs = [f.name for f in spec.inputs if f.kind in ("path", "file")]

    def _urls(self, values: dict[str, Any], data: bool) -> list[tuple[str, int | None, str]]:
        """(input name, list position or None, URL) for each data URL, or each http(s) URL.
        (Values already replaced by local paths are neither.)"""
        schemes = ("data:",) if data else ("http://", "https://")
        found: list[tuple[str, int | None, str]] = []
        for name in self.file_inputs:
            value = values.get(name)
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            found.extend(
                (name, position, url)
                for position, url in items
                if isinstance(url, str) and url[:8].lower().startswith(schemes)
            )
        return found

    def has_data_urls(self, values: dict[str, Any]) -> bool:
        return bool(self.file_inputs) and bool(self._urls(values, data=True))

    def has_downloads(self, values: dict[str, Any]) -> bool:
        return bool(self.file_inputs) and bool(self._urls(values, data=False))

    async def write_data_urls(self, values: dict[str, Any], directory: str, max_bytes: int) -> dict[str, Any]:
        """Raises DataUrlRejected: 413 for a file over `max_bytes`, 422 for a payload that does
        not decode, with a FastAPI-shaped detail naming the input."""
        jobs = self._urls(values, data=True)

        def write_all() -> list[str]:
            os.makedirs(directory, exist_ok=True)
            paths = []
            for index, (name, position, url) in enumerate(jobs):
                try:
                    paths.append(_write_data_url(url, directory, f"d{index}", max_bytes))
                except data_url.DataUrlError as error:
                    raise DataUrlRejected(name, position, error) from None
            return paths

        # The thread cannot be stopped: if the client hangs up meanwhile, wait until it is done
        # writing, so the directory is the caller's alone again when this returns or raises.
        writing = asyncio.ensure_future(asyncio.to_thread(write_all))
        try:
            paths = await asyncio.shield(writing)
        except asyncio.CancelledError:
            await asyncio.wait([writing])
            raise
        return _resolve(values, jobs, paths)

    async def download(
        self, values: dict[str, Any], directory: str, session: aiohttp.ClientSession, limits: DownloadLimits
    ) -> dict[str, Any]:
        jobs = self._urls(values, data=False)
        os.makedirs(directory, exist_ok=True)
        paths = await asyncio.gather(
            *(
                self._fetch(name, url, directory, f"u{index}", session, limits)
                for index, (name, _, url) in enumerate(jobs)
            )
        )
        return _resolve(values, jobs, list(paths))

    async def _fetch(
        self, name: str, url: str, directory: str, prefix: str, session: aiohttp.ClientSession, limits: DownloadLimits
    ) -> str:
        path = os.path.join(directory, f"{prefix}-{safe_file_name(urllib.parse.urlsplit(url).path, 'input')}")
        try:
            await _download(session, url, path, limits)
            return path
        except TimeoutError:
            raise InputFileError(
                f"input {name!r}: download took longer than {limits.timeout:.0f} s (SPROCKET_DOWNLOAD_TIMEOUT)"
            ) from None
        except aiohttp.ClientError as error:
            raise InputFileError(f"input {name!r}: download failed: {error}") from None
        except InputFileError as error:
            raise InputFileError(f"input {name!r}: {error}") from None


def _resolve(values: dict[str, Any], jobs: list[tuple[str, int | None, str]], paths: list[str]) -> dict[str, Any]:
    """`values` with each job's URL replaced by its local path."""
    resolved = dict(values)
    for (name, position, _), path in zip(jobs, paths, strict=True):
        if position is None:
            resolved[name] = path
        else:
            resolved[name] = [*resolved[name]]
            resolved[name][position] = path
    return resolved


# ---------------------------------------------------------------- outputs


def contains_file(value: Any) -> bool:
    if isinstance(value, OutputFile):
        return True
    if isinstance(value, list):
        return any(contains_file(v) for v in value)
    if isinstance(value, dict):
        return any(contains_file(v) for v in value.values())
    return False


async def _pieces_of(path: str) -> AsyncIterator[bytes]:
    """The file, read on a thread a piece at a time: a request body that is never held whole."""
    with open(path, "rb") as file:
        while piece := await asyncio.to_thread(file.read, IO_CHUNK):
            yield piece


# What makes an upload worth another attempt: the network, or the receiver's HTTP error.
_RETRIED = (aiohttp.ClientError, asyncio.TimeoutError, OutputFileError)


class OutputEncoder:
    """Replaces the output files of one prediction by what the client gets: a data URI, or the
    URL of an upload (`--upload-url`, or the request's legacy `output_file_prefix`). Each file
    is encoded once, however many webhooks carry it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        prediction_id: str,
        upload_url: str | None,
        output_file_prefix: str | None,
        trace_headers: dict[str, str],
        on_upload_failure: Callable[[], None],
    ) -> None:
        self._session = session
        self._on_upload_failure = on_upload_failure
        self._prediction_id = prediction_id
        self._upload_url = upload_url
        self._prefix = output_file_prefix
        self._trace_headers = trace_headers
        self._done: dict[str, str] = {}

    async def encode(self, value: Any) -> Any:
        if not contains_file(value):
            return value
        return await self._replace(value)

    async def _replace(self, value: Any) -> Any:
        if isinstance(value, OutputFile):
            if value.path not in self._done:
                self._done[value.path] = await self._encode_file(value.path)
            return self._done[value.path]
        if isinstance(value, list):
            return [await self._replace(v) for v in value]
        if isinstance(value, dict):
            return {k: await self._replace(v) for k, v in value.items()}
        return value

    async def _encode_file(self, path: str) -> str:
        try:
            if self._prefix:
                return await self._retrying(path, self._put_multipart)
            if self._upload_url:
                return await self._retrying(path, self._put_raw)
            return await asyncio.to_thread(data_url.from_file, path)
        except OutputFileError:
            raise
        except Exception as error:  # a file that vanished, a name no request can carry, ...
            raise OutputFileError(
                f"output file {os.path.basename(path)} could not be returned: {type(error).__name__}: {error}"
            ) from error

    async def _retrying(self, path: str, put: Callable[[str], Awaitable[str]]) -> str:
        async def attempt_once() -> str:
            try:
                return await put(path)
            except _RETRIED:
                self._on_upload_failure()
                raise

        try:
            return await tenacity.retry(
                stop=tenacity.stop_after_attempt(_UPLOAD_ATTEMPTS),
                wait=tenacity.wait_exponential(multiplier=_UPLOAD_BACKOFF_FIRST),
                retry=tenacity.retry_if_exception_type(_RETRIED),
                reraise=True,
            )(attempt_once)()
        except _RETRIED as error:
            raise OutputFileError(
                f"uploading output file {os.path.basename(path)} failed after "
                f"{_UPLOAD_ATTEMPTS} attempts: {error or type(error).__name__}"
            ) from None

    def _target(self, base: str, path: str) -> str:
        name = urllib.parse.quote(safe_file_name(path, "output"))
        return base + name if base.endswith("/") else f"{base}/{name}"

    async def _put_raw(self, path: str) -> str:
        assert self._upload_url is not None
        url = self._target(self._upload_url, path)
        headers = {
            "Content-Type": data_url.media_type_of(path),
            "X-Prediction-ID": self._prediction_id,
            "Content-Length": str(os.path.getsize(path)),
            **self._trace_headers,
        }
        async with self._session.put(url, data=_pieces_of(path), headers=headers) as response:
            if response.status >= 400:
                raise OutputFileError(f"PUT {url} answered HTTP {response.status}")
            location = response.headers.get("Location")
        final = urllib.parse.urljoin(url, location) if location else url
        return urllib.parse.urlsplit(final)._replace(query="", fragment="").geturl()

    async def _put_multipart(self, path: str) -> str:
        assert self._prefix is not None
        name = safe_file_name(path, "output")
        url = self._prefix + urllib.parse.quote(name)
        with open(path, "rb") as file:
            form = aiohttp.FormData()
            form.add_field("file", file, filename=name, content_type=data_url.media_type_of(path))
            async with self._session.put(url, data=form, headers=self._trace_headers) as response:
                if response.status >= 400:
                    raise OutputFileError(f"PUT {url} answered HTTP {response.status}")
        return url
