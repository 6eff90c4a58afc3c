"""Running the front on its listening socket until it is told to stop.

SIGTERM and POST /shutdown take one path: stop accepting predictions (503), give running ones
the grace period, stop the worker (what still runs is cancelled), close the connections, exit 0.
With --await-explicit-shutdown SIGTERM is logged and ignored; SIGINT always stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

from aiohttp import web

from runtime.config import ServerConfig
from runtime.http.access_log import AccessLogger
from runtime.http.app import build_app
from runtime.http.keys import SERVICE, SHUTDOWN_REQUESTED
from runtime.ipc.transport import FrontChannel
from runtime.listen import BACKLOG, display
from runtime.supervisor.process import WorkerProcess

log = logging.getLogger("sprocket.server")

# Idle keep-alive connections are closed after this long (aiohttp's default, longer than the
# idle timeouts of the usual load balancers, so they close first).
KEEPALIVE_TIMEOUT = 3630.0
# Once the worker has stopped, every handler has its answer: this only bounds the writing of it.
_HANDLER_SHUTDOWN_SECONDS = 10.0


async def serve(config: ServerConfig, sock: socket.socket, channel: FrontChannel, first_worker: WorkerProcess) -> None:
    """Serve on `sock` until told to stop; `first_worker` is already booting on `channel`."""
    app = build_app(config, channel, first_worker)
    shutdown = app[SHUTDOWN_REQUESTED]
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:
        if config.await_explicit_shutdown:
            log.info("got SIGTERM; ignoring it until POST /shutdown (--await-explicit-shutdown)")
        else:
            shutdown.set()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    loop.add_signal_handler(signal.SIGINT, shutdown.set)

    # handler_cancellation: a synchronous client that hangs up cancels its prediction.
    # auto_decompress off: runtime/http/request_body.py decodes compressed bodies, strictly.
    runner = web.AppRunner(
        app,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("sprocket.access"),
        handle_signals=False,
        handler_cancellation=True,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        auto_decompress=False,
        shutdown_timeout=_HANDLER_SHUTDOWN_SECONDS,
    )
    await runner.setup()  # starts the supervisor, which adopts the worker already booting
    await web.SockSite(runner, sock, backlog=BACKLOG).start()
    log.info("listening on %s", display(sock))

    await shutdown.wait()
    service = app[SERVICE]
    service.begin_shutdown()
    supervisor = service.supervisor
    running = supervisor.in_flight()
    log.info(
        "shutting down: new predictions get 503; %d running, up to %.0f s to finish", running, config.shutdown_grace
    )
    if running and not await supervisor.wait_idle(config.shutdown_grace):
        log.warning("grace period over with %d predictions still running; cancelling them", supervisor.in_flight())
    await runner.cleanup()  # listener, then the worker, the connections, and the rest of the app
    log.info("shutdown complete")
