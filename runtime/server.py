"""Binding the listening socket and running the front until it is told to stop.

SIGTERM and POST /shutdown take one path: stop accepting predictions (503), give running ones
the grace period, stop the worker, exit 0. With --await-explicit-shutdown SIGTERM is logged and
ignored; SIGINT always stops.
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
from runtime.http.fastlane import FastLanes
from runtime.http.keys import MONITOR, SERVICE, SHUTDOWN_REQUESTED
from runtime.ipc.transport import FrontChannel
from runtime.listen import display
from runtime.supervisor.process import WorkerProcess

log = logging.getLogger("sprocket.server")

# Idle keep-alive connections are closed after this long (aiohttp's default, longer than the
# idle timeouts of the usual load balancers, so they close first).
KEEPALIVE_TIMEOUT = 3630.0
_BACKLOG = 128

async def serve(config: ServerConfig, sock: socket.socket, channel: FrontChannel,
                first_worker: WorkerProcess) -> None:
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
    access_log = logging.getLogger("sprocket.access")
    runner = web.AppRunner(app, access_log_class=AccessLogger, access_log=access_log, handle_signals=False,
                           handler_cancellation=True, keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()  # starts the supervisor, which spawns the worker
    assert runner.server is not None
    # Connections start in the fast lane, which hands all but the hot path's requests to aiohttp.
    lanes = FastLanes(app[SERVICE], app[MONITOR], runner.server, access_log, KEEPALIVE_TIMEOUT)
    listener = await loop.create_server(lanes, sock=sock, backlog=_BACKLOG)
    log.info("listening on %s", display(sock))

    await shutdown.wait()
    service = app[SERVICE]
    service.begin_shutdown()
    supervisor = service.supervisor
    running = supervisor.in_flight()
    log.info("shutting down: new predictions get 503; %d running, up to %.0f s to finish",
             running, config.shutdown_grace)
    if running and not await supervisor.wait_idle(config.shutdown_grace):
        log.warning("grace period over with %d predictions still running; cancelling them",
                    supervisor.in_flight())
    listener.close()
    lanes.close()
    await runner.cleanup()  # closes aiohttp's connections, then stops the supervisor and the worker
    log.info("shutdown complete")
