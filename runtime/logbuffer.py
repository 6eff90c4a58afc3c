"""A prediction's (or setup's) captured output, bounded: past the limit the oldest text goes,
and the text says how much went, so a predictor that floods stdout cannot exhaust the front's
memory or make every response and webhook huge. The end, where errors are, is kept."""

from __future__ import annotations

import collections


class LogBuffer:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: collections.deque[str] = collections.deque()
        self._size = 0
        self._dropped = 0

    def append(self, text: str) -> None:
        self._chunks.append(text)
        self._size += len(text)
        while self._size > self._limit and self._chunks:
            excess = self._size - self._limit
            oldest = self._chunks[0]
            if len(oldest) <= excess:
                self._chunks.popleft()
                cut = len(oldest)
            else:
                self._chunks[0] = oldest[excess:]
                cut = excess
            self._size -= cut
            self._dropped += cut

    def text(self) -> str:
        body = "".join(self._chunks)
        if self._chunks and len(self._chunks) > 1:
            self._chunks = collections.deque([body])  # join once, not on every webhook
        if self._dropped:
            return f"[{self._dropped} characters of earlier output dropped (SPROCKET_MAX_LOG_BYTES)]\n{body}"
        return body
