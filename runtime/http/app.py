"""The aiohttp application: routes, and the lifetime of what they share.

The supervisor (and so the worker), its monitor and the prediction service start and stop
with the app (`app.cleanup_ctx`; the worker stops first, in `on_shutdown`). Handlers find them
under typed `web.AppKey`s.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web

from runtime.config import MIB, ServerConfig
from runtime.http import routes
from runtime.http.keys import LOOP_WATCH, MONITOR, SERVICE, SHUTDOWN_REQUESTED
from runtime.http.loop_watch import LoopWatch
from runtime.http.service import PredictionService
from runtime.ipc.transport import FrontChannel
from runtime.metrics import Metrics
from runtime.supervisor.monitor import Monitor
from runtime.supervisor.process import WorkerProcess
from runtime.supervisor.supervisor import Supervisor


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service, monitor, loop_watch = app[SERVICE], app[MONITOR], app[LOOP_WATCH]
    loop_watch.start()
    await service.open()
    await service.supervisor.start()
    monitor.start()
    yield
    await monitor.stop()
    await service.close()  # webhooks still being delivered get what is left of the grace period
    await loop_watch.stop()


async def _stop_worker(app: web.Application) -> None:
    """Once the listener is closed and before aiohttp waits for the handlers still running: the
    worker stops, so every prediction in flight ends (canceled, or failed if the worker has to
    be killed), its client gets its answer and its webhooks are on their way."""
    await app[SERVICE].supervisor.stop()


def build_app(
    config: ServerConfig, channel: FrontChannel | None = None, first_worker: WorkerProcess | None = None
) -> web.Application:
    app = web.Application(client_max_size=config.max_body_bytes)
    supervisor = Supervisor(config, Metrics(), channel, first_worker)
    app[SERVICE] = PredictionService(supervisor, config)
    memory_limit = config.memory_limit_mb * MIB if config.memory_limit_mb else None
    app[MONITOR] = Monitor(supervisor, config.watch_interval, config.gpu_interval, memory_limit)
    app[LOOP_WATCH] = LoopWatch()
    app[SHUTDOWN_REQUESTED] = asyncio.Event()
    app.cleanup_ctx.append(_lifetime)
    app.on_shutdown.append(_stop_worker)
    routes.add_routes(app)
    return app
