import asyncio

from cog import BasePredictor


class Predictor(BasePredictor):
    async def setup(self) -> None:
        self.greeting = "hello"

    async def predict(self, name: str = "async") -> str:
        await asyncio.sleep(0)
        return f"{self.greeting} {name}"
