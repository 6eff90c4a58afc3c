"""examples/text-embed for a server that runs predictions concurrently only when predict() is
async (coglet): each request's forward pass in a thread of asyncio's default pool
(`asyncio.to_thread`), so up to that pool's size run at once while torch releases the GIL.

As in embed_unbatched, the example's own Predictor does the work; the harness copies its
predict.py in beside this file as text_embed.py.
"""

import asyncio

from cog import BasePredictor, Input
from text_embed import TASKS, Output
from text_embed import Predictor as TextEmbed


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.model = TextEmbed()
        self.model.setup()

    async def predict(
        self,
        task: str = Input(description="What to compute", choices=TASKS, default="embed"),
        texts: list[str] = Input(description="Texts to embed, or to compare with the query"),
        query: str = Input(description="Text to compare with (similarity and rank)", default=None),
        top_k: int = Input(description="rank: keep the best k (0: all)", default=0, ge=0),
    ) -> Output:
        return await asyncio.to_thread(self.model.predict, task=task, texts=texts, query=query, top_k=top_k)
