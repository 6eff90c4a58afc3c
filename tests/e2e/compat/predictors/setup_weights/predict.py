from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def setup(self, weights: Path = None) -> None:
        self.weights = weights.read_text() if weights else "no weights"

    def predict(self) -> str:
        return self.weights
