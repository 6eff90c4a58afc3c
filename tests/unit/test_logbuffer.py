"""The bounded log buffer keeps the end and says how much of the beginning went."""

from __future__ import annotations

from runtime.logbuffer import LogBuffer


def test_under_the_limit_everything_is_kept() -> None:
    buffer = LogBuffer(100)
    for chunk in ("a\n", "b\n", "c"):
        buffer.append(chunk)
    assert buffer.text() == "a\nb\nc"


def test_over_the_limit_the_oldest_text_goes_and_the_logs_say_so() -> None:
    buffer = LogBuffer(10)
    buffer.append("0123456789")
    buffer.append("abcde")
    assert buffer.text() == "[5 characters of earlier output dropped (SPROCKET_MAX_LOG_BYTES)]\n56789abcde"
    buffer.append("x" * 30)
    assert buffer.text().endswith("\n" + "x" * 10)
    assert buffer.text().startswith("[35 characters")
