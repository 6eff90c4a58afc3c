"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from runtime.config import ServerConfig
from runtime.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from runtime.http.prediction import Prediction
    from runtime.http.routes import PredictorViewCache

CONFIG = web.AppKey("config", ServerConfig)
SUPERVISOR = web.AppKey("supervisor", Supervisor)
PREDICTIONS = web.AppKey("predictions", dict[str, "Prediction"])
PREDICTOR_VIEW = web.AppKey("predictor_view", "PredictorViewCache")
BACKGROUND_TASKS = web.AppKey("background_tasks", set[asyncio.Task[None]])
SHUTDOWN_REQUESTED = web.AppKey("shutdown_requested", asyncio.Event)
