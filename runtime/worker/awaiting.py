"""Running a coroutine to completion from synchronous code: an async setup(), train() or
healthcheck() beside a synchronous predictor.

asyncio is imported only here, on first use: a worker serving a synchronous predictor never
loads it, which is a fifth of such a worker's start-up imports.
"""

from __future__ import annotations

from typing import Any, Awaitable


def run_to_completion(awaitable: Awaitable[Any]) -> Any:
    import asyncio

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())
