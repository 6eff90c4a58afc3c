"""`python -m runtime`: serve the predictor named in ./cog.yaml over Cog's HTTP API.

Start-up order matters for cold start: read the settings, take the port, start the worker, and
only then import the HTTP stack (aiohttp is the longest of its imports), so the worker's
imports and setup() overlap with the front's. The cyclic garbage collector stays off while the
modules load (start-up allocates a lot and frees almost nothing: each collection would be wasted
work), and what they built is then frozen out of later collections' way.

Exit codes: 0 after a clean shutdown, 2 when the configuration is wrong (one line on stderr).
"""

from __future__ import annotations

import gc

gc.disable()

import asyncio
import os
import sys

from runtime.config import ConfigError, load_config
from runtime.ipc.transport import FrontChannel
from runtime.listen import bind_listener
from runtime.logs import configure_logging
from runtime.supervisor.process import spawn_worker


def _event_loop_factory() -> object:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def main() -> None:
    try:
        config = load_config(sys.argv[1:], os.environ, os.getcwd())
        configure_logging(config.log_level, config.log_format)
        sock = bind_listener(config.host, config.port)
        channel = FrontChannel()
        first_worker = spawn_worker(channel.open_for_worker(), config)
        # The HTTP stack, imported while the worker boots. aiohttp's CA certificates are read on
        # a thread while the rest of it loads (ssl itself only now, after the worker is on its way).
        from runtime.http.certificates import read_in_background

        with read_in_background() as certificates:
            import aiohttp  # noqa: F401 - builds its default SSL contexts
        from runtime.server import serve

        loop_factory = _event_loop_factory()
        gc.freeze()
        gc.enable()
        certificates.wait()  # read beside the imports; needed before anything is served
        with asyncio.Runner(loop_factory=loop_factory) as runner:  # type: ignore[arg-type]
            runner.run(serve(config, sock, channel, first_worker))
    except ConfigError as error:
        print(f"sprocket: {error}", file=sys.stderr)
        sys.exit(2)


main()
