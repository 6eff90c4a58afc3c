"""Reading the system's CA certificates beside the front's imports instead of in the middle of them.

aiohttp (3.10+) builds its two default SSL contexts (for webhooks, input downloads and uploads)
when it is imported, and each reads the whole CA bundle: a good part of the time a start
takes on this project's machine, on the path to READY. Inside `read_in_background()` those reads
are recorded instead of done; when the block ends, the contexts are built and a thread does the
reads (OpenSSL releases the GIL for them) while the rest of the front's modules load. `wait()`
returns once every context holds its certificates; the front calls it before it serves anything,
so no request can meet a context without them.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator

_Load = Callable[[ssl.SSLContext], None]


class CertificateLoading:
    """SSL contexts whose CA certificates are being read on a thread."""

    def __init__(self) -> None:
        self._deferred: list[ssl.SSLContext] = []
        self._thread: threading.Thread | None = None

    def defer(self, context: ssl.SSLContext) -> None:
        self._deferred.append(context)

    def start(self, load: _Load) -> None:
        if self._deferred:
            self._thread = threading.Thread(target=self._load_all, args=(load,), name="ca-certificates", daemon=True)
            self._thread.start()

    def _load_all(self, load: _Load) -> None:
        for context in self._deferred:
            load(context)

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


@contextlib.contextmanager
def read_in_background() -> Iterator[CertificateLoading]:
    """Defer `set_default_verify_paths` (what `ssl.create_default_context` calls) for the contexts
    created inside the block; a thread calls it for them once the block ends."""
    loading = CertificateLoading()
    original: _Load = ssl.SSLContext.set_default_verify_paths
    # A function, not the bound `loading.defer`: only a function receives the context as `self`.
    stand_in = lambda context: loading.defer(context)
    ssl.SSLContext.set_default_verify_paths = stand_in  # type: ignore[method-assign]
    try:
        yield loading
    finally:
        ssl.SSLContext.set_default_verify_paths = original  # type: ignore[method-assign,assignment]
        loading.start(original)
