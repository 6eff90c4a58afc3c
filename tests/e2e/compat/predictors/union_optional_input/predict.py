from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, value: str | float | None = Input(description="Text or a number", default=None)) -> str:
        return f"{type(value).__name__}:{value}"
