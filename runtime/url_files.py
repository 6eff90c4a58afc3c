"""`URLFile` and `URLPath`, Cog's lazily fetched files, and `get_filename`, as `cog.types` offers them.

Sprocket downloads input files itself, before predict() runs, so a predictor never receives
these: they are here for predictors (and their helpers) that build or check for them by name.
Plain standard library, so importing the SDK stays cheap.
"""

from __future__ import annotations

import io
import mimetypes
import os
import pathlib
import shutil
import sys
import tempfile
import urllib.parse
from typing import Any, Iterator

FILENAME_ILLEGAL_CHARS = set("\u0000/")
# Linux allows 255 bytes; the margin leaves room for what tempfile adds around a name.
FILENAME_MAX_LENGTH = 200


def _truncate_filename_bytes(name: str, length: int) -> str:
    """`name` cut to `length` UTF-8 bytes, keeping its extension and marking the cut with `~`."""
    if len(name.encode()) <= length:
        return name
    root, extension = os.path.splitext(name)
    room = length - len(extension.encode()) - 1
    return root.encode()[:room].decode(errors="ignore") + "~" + extension


def get_filename(url: str) -> str:
    """A file name for what `url` points at: the last path segment, or `file.<ext>` for a data URL."""
    from runtime import data_url  # here: the SDK's import stays free of it (and of pybase64)

    header = data_url.parse_header(url)
    if header is not None:
        extension = mimetypes.guess_extension(header.media_type)
        return "file" + extension if extension else "file"
    parsed = urllib.parse.urlparse(url)
    name = urllib.parse.unquote_plus(os.path.basename(parsed.path))
    name = _truncate_filename_bytes(name, FILENAME_MAX_LENGTH)
    for character in FILENAME_ILLEGAL_CHARS:
        name = name.replace(character, "_")
    return name


class URLFile(io.IOBase):
    """A file object for an http(s) URL, opened on first read; it survives pickling."""

    def __init__(self, url: str, filename: str | None = None) -> None:
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise ValueError("URLFile requires URL to conform to HTTP or HTTPS protocol")
        self.url = url
        self.name = filename or os.path.basename(urllib.parse.urlparse(url).path)
        self._response: Any = None

    def _opened(self) -> Any:
        if self._response is None:
            import urllib.request  # here: it costs the SDK's import (and every worker's start) 14 ms

            self._response = urllib.request.urlopen(self.url, timeout=10)  # http(s): checked in __init__
        return self._response

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return bytes(self._opened().read(size))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._opened())

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url, self.name, self._response = state["url"], state["name"], None

    def __repr__(self) -> str:
        return f"<URLFile for {self.url!r}>"


class URLPath(pathlib.PosixPath):
    """A path whose file is still at `source`; `convert()` copies `fileobj` to a local file."""

    def __new__(cls, *, source: str, filename: str, fileobj: io.IOBase) -> URLPath:
        return super().__new__(cls, _truncate_filename_bytes(filename, FILENAME_MAX_LENGTH))

    def __init__(self, *, source: str, filename: str, fileobj: io.IOBase) -> None:
        if sys.version_info >= (3, 12):  # from 3.12 the path is taken here, not in __new__
            super().__init__(_truncate_filename_bytes(filename, FILENAME_MAX_LENGTH))
        self.source = source
        self.filename = self.name
        self.fileobj = fileobj
        self._local: pathlib.Path | None = None

    def convert(self) -> pathlib.Path:
        if self._local is None:
            with tempfile.NamedTemporaryFile(suffix=self.filename, delete=False) as destination:
                shutil.copyfileobj(self.fileobj, destination)
            self._local = pathlib.Path(destination.name)
        return self._local

    def unlink(self, missing_ok: bool = False) -> None:
        if self._local is not None:
            self._local.unlink(missing_ok=missing_ok)

    def __str__(self) -> str:
        # As Cog's: shown (and echoed) as the URL it came from.
        return self.source
