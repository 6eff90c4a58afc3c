from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, steps: int = Input(description="Denoising steps", default=20, ge=1, le=50)) -> int:
        return steps * 2
