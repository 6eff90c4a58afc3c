from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Sprocket runs concurrent predictions together through predict_batch(); Cog calls predict()."""

    max_batch_size = 16

    def predict(self, text: str = Input(description="Text to shout")) -> str:
        return self.predict_batch(text=[text])[0]

    def predict_batch(self, text: list[str]) -> list[str]:
        return [item.upper() for item in text]
