from typing import Literal

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, mode: Literal["fast", "quality"] = "fast") -> str:
        return mode
