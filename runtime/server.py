"""Binding the listening socket and running the front until it is told to stop.

SIGTERM and POST /shutdown take one path: stop accepting predictions (503), give running ones
the grace period, stop the worker, exit 0. With --await-explicit-shutdown SIGTERM is logged and
ignored; SIGINT always stops.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket

from aiohttp import web

from runtime.config import ConfigError, ServerConfig
from runtime.http.app import build_app
from runtime.http.keys import SERVICE, SHUTDOWN_REQUESTED
from runtime.logs import AccessLogger

log = logging.getLogger("sprocket.server")

_BACKLOG = 1024


def _listen(family: socket.AddressFamily, address: tuple[str, int], dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_listener(host: str | None, port: int) -> socket.socket:
    """Listen on `host`, or by default on '::' for IPv4 and IPv6 at once (0.0.0.0 without IPv6)."""
    try:
        if host is None:
            try:
                return _listen(socket.AF_INET6, ("::", port), dual_stack=True)
            except OSError as error:
                if error.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    raise
                log.info("IPv6 is not available (%s); listening on 0.0.0.0 only", error.strerror)
                return _listen(socket.AF_INET, ("0.0.0.0", port), dual_stack=False)
        bare = host.strip("[]")
        family, _, _, _, address = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)[0]
        return _listen(family, address[:2], dual_stack=False)
    except socket.gaierror as error:
        raise ConfigError(f"--host {host!r} is not an address this machine has: {error.strerror}") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} is already in use: stop the other server or set PORT") from None
        raise ConfigError(f"cannot listen on {host or '::'} port {port}: {error.strerror}") from None


def _display(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(config: ServerConfig) -> None:
    sock = bind_listener(config.host, config.port)
    app = build_app(config)
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
    runner = web.AppRunner(app, access_log_class=AccessLogger, access_log=logging.getLogger("sprocket.access"),
                           handle_signals=False, handler_cancellation=True)
    await runner.setup()  # starts the supervisor, which spawns the worker
    await web.SockSite(runner, sock).start()
    log.info("listening on %s", _display(sock))

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
    await runner.cleanup()  # closes the listener, then stops the supervisor and the worker
    log.info("shutdown complete")
