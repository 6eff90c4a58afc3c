"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from runtime.http.service import PredictionService

SERVICE = web.AppKey("service", PredictionService)
SHUTDOWN_REQUESTED = web.AppKey("shutdown_requested", asyncio.Event)
