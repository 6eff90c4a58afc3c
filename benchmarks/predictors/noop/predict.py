"""Does nothing: what remains is the server's own overhead per prediction."""

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, text: str = Input(description="echoed back", default="")) -> str:
        return text
