"""Data URLs (RFC 2397), read and written in this one place: file inputs sent as data URLs (checked
on the event loop by their header alone, decoded into a file on a thread), output files returned
as data URLs, and the `sprocket` command's `-i name=@file` and the outputs it writes to disk.

Base64 goes through pybase64 (SIMD), several times faster than the standard library on the
megabytes a file input holds; the standard library is asked again only to word an error.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import urllib.parse
from dataclasses import dataclass
from typing import BinaryIO

import pybase64

# data:[<mediatype>][;param=value]*[;base64],<data>
_HEADER = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[^;,]*)*(?P<base64>;base64)?,", re.ASCII | re.IGNORECASE
)
_CHUNK = 4 * 1024 * 1024  # base64 characters decoded at a time; a multiple of 4
DEFAULT_MEDIA_TYPE = "text/plain"


class DataUrlError(ValueError):
    """A data URL whose payload does not decode, or that holds more than allowed."""


class TooLarge(DataUrlError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the data URL holds {size} bytes, more than the limit of {limit}")
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class Header:
    media_type: str
    base64: bool
    payload_at: int  # where the payload starts in the URL


def is_data_url(value: str) -> bool:
    return value[:5].lower() == "data:"


def parse_header(url: str) -> Header | None:
    """The header of a well-formed data URL; None for anything else. Reads only the header."""
    match = _HEADER.match(url)
    if match is None:
        return None
    return Header(match["type"] or DEFAULT_MEDIA_TYPE, match["base64"] is not None, match.end())


def _header(url: str) -> Header:
    header = parse_header(url)
    if header is None:
        raise DataUrlError("not a data URL: expected data:[<mediatype>][;base64],<data>")
    return header


def _b64decode(payload: str) -> bytes:
    try:
        return pybase64.b64decode(payload, validate=True)
    except binascii.Error:
        try:
            return base64.b64decode(payload, validate=True)  # for its wording of what is wrong
        except binascii.Error as error:
            raise DataUrlError(f"the data URL does not decode: {error}") from None


def decoded_size(url: str) -> int:
    """How many bytes the URL's payload decodes to (before checking that it does)."""
    header = _header(url)
    payload = len(url) - header.payload_at
    if not header.base64:
        return len(urllib.parse.unquote_to_bytes(url[header.payload_at :]))
    padding = url.count("=", max(header.payload_at, len(url) - 2))
    return payload // 4 * 3 - padding


def write(url: str, file: BinaryIO, limit: int) -> int:
    """Decode the URL's payload into `file`, a piece at a time; the bytes written. Raises
    TooLarge before writing anything when it holds more than `limit` bytes, DataUrlError when
    it does not decode."""
    header = _header(url)
    if not header.base64:
        data = urllib.parse.unquote_to_bytes(url[header.payload_at :])
        if len(data) > limit:
            raise TooLarge(len(data), limit)
        return file.write(data)
    size = decoded_size(url)
    if size > limit:
        raise TooLarge(size, limit)
    if (len(url) - header.payload_at) % 4:
        raise DataUrlError("the data URL does not decode: its base64 payload is not a multiple of 4 characters")
    written = 0
    for start in range(header.payload_at, len(url), _CHUNK):
        written += file.write(_b64decode(url[start : start + _CHUNK]))
    return written


def decode(url: str) -> tuple[bytes, str]:
    """The URL's payload and media type."""
    header = _header(url)
    payload = url[header.payload_at :]
    data = _b64decode(payload) if header.base64 else urllib.parse.unquote_to_bytes(payload)
    return data, header.media_type


def encode(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{pybase64.b64encode(data).decode('ascii')}"


def media_type_of(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def from_file(path: str) -> str:
    """The file at `path` as a data URL, its media type guessed from its name."""
    with open(path, "rb") as file:
        return encode(file.read(), media_type_of(path))
