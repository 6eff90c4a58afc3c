"""Files crossing the HTTP boundary: input URLs become local files, output files become data URIs.

Everything that touches the disk runs in a thread, off the event loop. Input files are written
into the prediction's own directory under names that cannot escape it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import os
import re
import urllib.parse
from typing import Any

import aiohttp

from runtime.ipc.messages import OutputFile, PredictorSpec

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100
_DOWNLOAD_CHUNK = 1024 * 1024


class InputFileError(Exception):
    """An input file could not be fetched or decoded; the message names the input and why."""


def safe_file_name(name: str, fallback: str) -> str:
    """A file name with no directory parts, no NUL, no leading dots, at most 100 characters."""
    base = _UNSAFE_NAME.sub("_", os.path.basename(name)).lstrip(".")
    if len(base) > _MAX_NAME:
        stem, ext = os.path.splitext(base)
        base = stem[: _MAX_NAME - len(ext[:20])] + ext[:20]
    return base or fallback


def _decode_data_uri(uri: str) -> tuple[bytes, str]:
    header, _, payload = uri.partition(",")
    media_type = header[5:].split(";")[0] or "text/plain"
    if header.endswith(";base64"):
        return base64.b64decode(payload, validate=True), media_type
    return urllib.parse.unquote_to_bytes(payload), media_type


def _write_data_uri(uri: str, directory: str, index: int) -> str:
    data, media_type = _decode_data_uri(uri)
    extension = mimetypes.guess_extension(media_type) or ""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{index}-input{extension}")
    with open(path, "wb") as file:
        file.write(data)
    return path


async def _download(session: aiohttp.ClientSession, url: str, directory: str, index: int) -> str:
    name = safe_file_name(urllib.parse.urlsplit(url).path, "input")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{index}-{name}")
    async with session.get(url) as response:
        if response.status >= 400:
            raise InputFileError(f"fetching {url} failed: HTTP {response.status}")
        with open(path, "wb") as file:
            async for chunk in response.content.iter_chunked(_DOWNLOAD_CHUNK):
                await asyncio.to_thread(file.write, chunk)
    return path


class InputFiles:
    """Turns the URL values of Path and File inputs into local paths inside `directory`."""

    def __init__(self, spec: PredictorSpec) -> None:
        self.file_inputs = [f.name for f in spec.inputs if f.kind in ("path", "file")]

    def needed(self, values: dict[str, Any]) -> bool:
        return any(values.get(name) is not None for name in self.file_inputs)

    async def materialize(self, values: dict[str, Any], directory: str) -> dict[str, Any]:
        resolved = dict(values)
        counter = iter(range(1_000_000))
        async with aiohttp.ClientSession() as session:
            for name in self.file_inputs:
                value = values.get(name)
                if value is None:
                    continue
                try:
                    if isinstance(value, list):
                        resolved[name] = [await self._fetch(session, v, directory, next(counter)) for v in value]
                    else:
                        resolved[name] = await self._fetch(session, value, directory, next(counter))
                except (binascii.Error, ValueError) as error:
                    raise InputFileError(f"input {name!r}: the data URI does not decode: {error}") from None
                except aiohttp.ClientError as error:
                    raise InputFileError(f"input {name!r}: download failed: {error}") from None
                except InputFileError as error:
                    raise InputFileError(f"input {name!r}: {error}") from None
        return resolved

    async def _fetch(self, session: aiohttp.ClientSession, url: str, directory: str, index: int) -> str:
        if url.startswith("data:"):
            return await asyncio.to_thread(_write_data_uri, url, directory, index)
        return await _download(session, url, directory, index)


# ---------------------------------------------------------------- outputs

def _contains_file(value: Any) -> bool:
    if isinstance(value, OutputFile):
        return True
    if isinstance(value, list):
        return any(_contains_file(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_file(v) for v in value.values())
    return False


def _data_uri(path: str) -> str:
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as file:
        encoded = base64.b64encode(file.read()).decode("ascii")
    return f"data:{media_type};base64,{encoded}"


def _replace_files(value: Any) -> Any:
    if isinstance(value, OutputFile):
        return _data_uri(value.path)
    if isinstance(value, list):
        return [_replace_files(v) for v in value]
    if isinstance(value, dict):
        return {k: _replace_files(v) for k, v in value.items()}
    return value


async def encode_output(value: Any) -> Any:
    """The output as the client sees it: files inlined as data URIs (read in a thread)."""
    if not _contains_file(value):
        return value
    return await asyncio.to_thread(_replace_files, value)
