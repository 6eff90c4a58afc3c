"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from runtime.http.loop_watch import LoopWatch
from runtime.http.service import PredictionService
from runtime.supervisor.monitor import Monitor

SERVICE = web.AppKey("service", PredictionService)
MONITOR = web.AppKey("monitor", Monitor)
LOOP_WATCH = web.AppKey("loop_watch", LoopWatch)
SHUTDOWN_REQUESTED = web.AppKey("shutdown_requested", asyncio.Event)
