import numpy as np
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, x: float = 2.0) -> np.float64:
        return np.float64(x) ** 2
