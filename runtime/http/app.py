"""The aiohttp application: routes, middleware, and the supervisor's lifetime.

The supervisor starts and stops inside `app.cleanup_ctx`, so it lives exactly as long as the app.
Handlers find it, and everything else shared, under typed `web.AppKey`s.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web

from runtime.config import ServerConfig
from runtime.http import routes
from runtime.http.errors import json_errors
from runtime.http.keys import BACKGROUND_TASKS, CONFIG, PREDICTIONS, PREDICTOR_VIEW, SHUTDOWN_REQUESTED, SUPERVISOR
from runtime.supervisor.supervisor import Supervisor

MAX_BODY_BYTES = 100 * 1024 * 1024


async def _supervise(app: web.Application) -> AsyncIterator[None]:
    supervisor = app[SUPERVISOR]
    await supervisor.start()
    yield
    await supervisor.stop()


def build_app(config: ServerConfig) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app[SUPERVISOR] = Supervisor(config.predictor_ref, config.workdir, config.max_concurrency)
    app[PREDICTIONS] = {}
    app[BACKGROUND_TASKS] = set()
    app[PREDICTOR_VIEW] = routes.PredictorViewCache()
    app[SHUTDOWN_REQUESTED] = asyncio.Event()
    app.cleanup_ctx.append(_supervise)
    routes.add_routes(app)
    return app
