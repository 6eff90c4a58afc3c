from typing import TypedDict

from cog import BasePredictor


class Detection(TypedDict):
    label: str
    confidence: float


class Predictor(BasePredictor):
    def predict(self) -> Detection:
        return {"label": "dog", "confidence": 0.8}
