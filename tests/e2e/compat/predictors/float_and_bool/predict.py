from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        temperature: float = Input(description="Sampling temperature", default=0.75, ge=0.01, le=5),
        upscale: bool = Input(description="Upscale the result", default=False),
    ) -> str:
        return f"{type(temperature).__name__} {temperature} {upscale}"
