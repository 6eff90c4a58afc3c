from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        prompt: str = Input(default="hi"),
        guidance: float = Input(description="No longer used", default=7.5, deprecated=True),
    ) -> str:
        return prompt
