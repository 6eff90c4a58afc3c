"""The aiohttp application: routes, middleware, and the lifetime of what they share.

The supervisor (and so the worker) and the prediction service start and stop inside
`app.cleanup_ctx`, so they live exactly as long as the app. Handlers find them under typed
`web.AppKey`s.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web

from runtime.config import ServerConfig
from runtime.http import routes
from runtime.http.errors import json_errors
from runtime.http.keys import SERVICE, SHUTDOWN_REQUESTED
from runtime.http.service import PredictionService
from runtime.supervisor.supervisor import Supervisor, WorkerSettings


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    await service.open()
    await service.supervisor.start()
    yield
    # Worker first: predictions still running end (canceled or failed) and their webhooks go out.
    await service.supervisor.stop()
    await service.close()


def worker_settings(config: ServerConfig) -> WorkerSettings:
    return WorkerSettings(
        predictor_ref=config.predictor_ref, trainer_ref=config.trainer_ref, workdir=config.workdir,
        max_concurrency=config.max_concurrency, setup_timeout=config.setup_timeout,
        predict_timeout=config.predict_timeout, cancel_grace=config.cancel_grace,
        queue_size=config.queue_size, queue_timeout=config.queue_timeout)


def build_app(config: ServerConfig) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=config.max_body_bytes)
    app[SERVICE] = PredictionService(Supervisor(worker_settings(config)), config)
    app[SHUTDOWN_REQUESTED] = asyncio.Event()
    app.cleanup_ctx.append(_lifetime)
    routes.add_routes(app)
    return app
