import asyncio
from typing import AsyncIterator

from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self, count: int = 3) -> AsyncIterator[str]:
        for index in range(count):
            await asyncio.sleep(0)
            yield f"chunk{index}"
