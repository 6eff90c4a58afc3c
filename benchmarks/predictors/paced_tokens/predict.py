"""An async predictor yielding `count` tokens `pace_ms` apart, many at once: a language model
streaming to many clients. Needs `concurrency.max` (cog.yaml), so an async predict()."""

import asyncio
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
        for i in range(count):
            await asyncio.sleep(pace_ms / 1000.0)
            yield f"tok{i} "
