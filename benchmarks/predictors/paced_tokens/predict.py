"""An async predictor yielding `count` tokens `pace_ms` apart, many at once: a language model
streaming to many clients. Needs `concurrency.max` (cog.yaml), so an async predict().

Each token is the moment it was yielded (`time.perf_counter()`, which is CLOCK_MONOTONIC on Linux,
the same clock in every process of the machine): the client can tell the gaps the predictor made
from those the server added."""

import asyncio
import time
from typing import AsyncIterator

from cog import BasePredictor, Input

try:  # Cog 0.21+ marks predictors whose output may be streamed over SSE; older Cog has no marker.
    from cog import streaming
except ImportError:  # pragma: no cover - depends on the server under test

    def streaming(fn):  # type: ignore[no-untyped-def]
        return fn


class Predictor(BasePredictor):
    @streaming
    async def predict(
        self,
        count: int = Input(description="tokens to yield", default=100),
        pace_ms: float = Input(description="ms between tokens", default=10.0),
    ) -> AsyncIterator[str]:
        for _ in range(count):
            await asyncio.sleep(pace_ms / 1000.0)
            yield f"{time.perf_counter():.6f} "
