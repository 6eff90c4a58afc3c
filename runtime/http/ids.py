"""Random prediction ids: 32 hex digits from the operating system's CSPRNG, like `uuid4().hex`.

The random bytes are read 4 KiB at a time, one `getrandom` call per 256 ids: in the profile,
uuid4 (a syscall and a UUID object per prediction) was the front's hottest frame. They stay
unpredictable: a client that could guess another's id could cancel its prediction.
"""

from __future__ import annotations

import os

_BATCH = 4096
_ID_BYTES = 16


class _Ids:
    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def __call__(self) -> str:
        if self._at + _ID_BYTES > len(self._pool):
            self._pool, self._at = os.urandom(_BATCH), 0
        start, self._at = self._at, self._at + _ID_BYTES
        return self._pool[start:self._at].hex()


new_id = _Ids()
