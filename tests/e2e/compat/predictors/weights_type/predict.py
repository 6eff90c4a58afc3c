from cog import BasePredictor
from cog.types import Weights


class Predictor(BasePredictor):
    def setup(self, weights: Weights = None) -> None:
        self.loaded = weights is not None

    def predict(self) -> bool:
        return self.loaded
