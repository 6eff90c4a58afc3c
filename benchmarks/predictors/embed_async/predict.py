"""examples/text-embed's `embed` task for a server that runs predictions concurrently only when
predict() is async (coglet): each request's forward pass in a thread of asyncio's default pool
(`asyncio.to_thread`), so up to that pool's size run at once while torch releases the GIL.

The example's own Predictor does the work (the harness copies its predict.py in beside this
file as text_embed.py); only `texts` is an input here, the one figure 13 sends, the others at
the example's defaults.
"""

import asyncio

from cog import BasePredictor, Input
from text_embed import Output
from text_embed import Predictor as TextEmbed


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.model = TextEmbed()
        self.model.setup()

    async def predict(self, texts: list[str] = Input(description="Texts to embed")) -> Output:
        return await asyncio.to_thread(self.model.predict, task="embed", texts=texts, query=None, top_k=0)
