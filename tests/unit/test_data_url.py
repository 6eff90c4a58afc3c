"""Data URLs: headers, decoding in pieces, limits, and what is wrong said plainly."""

from __future__ import annotations

import base64
import io
import os

import pytest

from runtime import data_url


def test_a_header_is_read_without_the_payload() -> None:
    assert data_url.parse_header("data:image/png;name=x.png;base64,AAAA") == data_url.Header("image/png", True, 33)
    assert data_url.parse_header("data:,hello") == data_url.Header("text/plain", False, 6)
    for bad in ("data:image/png;base64", "data:not a type,x", "http://x/y", "data:a/b;c,d"):
        assert data_url.parse_header(bad) is None, bad


def test_a_payload_of_several_pieces_decodes_whole() -> None:
    payload = os.urandom(7 * 1024 * 1024)  # decoded a piece (4 Mi characters) at a time
    url = data_url.encode(payload, "application/octet-stream")
    out = io.BytesIO()
    assert data_url.write(url, out, limit=len(payload)) == len(payload)
    assert out.getvalue() == payload == data_url.decode(url)[0]


def test_too_large_is_refused_before_anything_is_written() -> None:
    out = io.BytesIO()
    with pytest.raises(data_url.TooLarge, match="holds 1001 bytes, more than the limit of 1000"):
        data_url.write(data_url.encode(b"x" * 1001, "text/plain"), out, limit=1000)
    with pytest.raises(data_url.TooLarge):
        data_url.write("data:," + "%41" * 1001, out, limit=1000)
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("QUJD*", "not a multiple of 4 characters"),
        ("QU*D", "Only base64 data is allowed"),
    ],
)
def test_bad_base64_says_what_is_wrong(payload: str, message: str) -> None:
    with pytest.raises(data_url.DataUrlError, match=message):
        data_url.write(f"data:text/plain;base64,{payload}", io.BytesIO(), limit=100)


def test_percent_encoded_payloads_decode() -> None:
    assert data_url.decode("data:text/plain,hello%20world") == (b"hello world", "text/plain")
    assert base64.b64decode(data_url.encode(b"\x00\xff", "a/b").split(",")[1]) == b"\x00\xff"
