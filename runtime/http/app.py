"""The aiohttp application: routes, middleware, and the lifetime of what they share.

The supervisor (and so the worker), its monitor and the prediction service start and stop
inside `app.cleanup_ctx`, so they live exactly as long as the app. Handlers find them under
typed `web.AppKey`s.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web

from runtime.config import MIB, ServerConfig
from runtime.http import routes
from runtime.http.errors import json_errors
from runtime.http.keys import LOOP_WATCH, MONITOR, SERVICE, SHUTDOWN_REQUESTED
from runtime.http.loop_watch import LoopWatch
from runtime.http.service import PredictionService
from runtime.metrics import Metrics
from runtime.supervisor.monitor import Monitor, MonitorSettings
from runtime.supervisor.restart import RestartPolicy
from runtime.supervisor.supervisor import Supervisor, WorkerSettings


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service, monitor, loop_watch = app[SERVICE], app[MONITOR], app[LOOP_WATCH]
    loop_watch.start()
    await service.open()
    await service.supervisor.start()
    monitor.start()
    yield
    # Worker first: predictions still running end (canceled or failed) and their webhooks go out.
    await monitor.stop()
    await service.supervisor.stop()
    await service.close()
    await loop_watch.stop()


def worker_settings(config: ServerConfig) -> WorkerSettings:
    return WorkerSettings(
        predictor_ref=config.predictor_ref, trainer_ref=config.trainer_ref, workdir=config.workdir,
        max_concurrency=config.max_concurrency, setup_timeout=config.setup_timeout,
        predict_timeout=config.predict_timeout, cancel_grace=config.cancel_grace,
        queue_size=config.queue_size, queue_timeout=config.queue_timeout,
        restart=RestartPolicy(config.restart_policy, config.max_restarts, config.restart_backoff),
        healthcheck_interval=config.healthcheck_interval, healthcheck_timeout=config.healthcheck_timeout,
        ready_file=config.ready_file)


def monitor_settings(config: ServerConfig) -> MonitorSettings:
    return MonitorSettings(
        interval=config.watch_interval, gpu_interval=config.gpu_interval, nvml_module=config.nvml_module,
        memory_limit_bytes=config.memory_limit_mb * MIB if config.memory_limit_mb else None)


def build_app(config: ServerConfig) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=config.max_body_bytes)
    supervisor = Supervisor(worker_settings(config), Metrics())
    app[SERVICE] = PredictionService(supervisor, config)
    app[MONITOR] = Monitor(supervisor, monitor_settings(config))
    app[LOOP_WATCH] = LoopWatch()
    app[SHUTDOWN_REQUESTED] = asyncio.Event()
    app.cleanup_ctx.append(_lifetime)
    routes.add_routes(app)
    return app
