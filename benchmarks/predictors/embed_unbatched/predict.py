"""examples/text-embed without predict_batch(): each request its own forward pass, one at a time.

The example's own Predictor does the work (its predict() is a batch of one), so the model, the
inputs and the code per request are the example's; only the batching is gone. The harness copies
the example's predict.py in beside this file as text_embed.py.
"""

from cog import BasePredictor, Input
from text_embed import TASKS, Output
from text_embed import Predictor as TextEmbed


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.model = TextEmbed()
        self.model.setup()

    def predict(
        self,
        task: str = Input(description="What to compute", choices=TASKS, default="embed"),
        texts: list[str] = Input(description="Texts to embed, or to compare with the query"),
        query: str = Input(description="Text to compare with (similarity and rank)", default=None),
        top_k: int = Input(description="rank: keep the best k (0: all)", default=0, ge=0),
    ) -> Output:
        return self.model.predict(task=task, texts=texts, query=query, top_k=top_k)
