"""Returns a 1 MiB string: the cost of carrying a large output back to the client."""

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.text = "x" * (1024 * 1024)

    def predict(self, size: int = Input(description="bytes of output", default=1024 * 1024)) -> str:
        return self.text[:size] if size <= len(self.text) else "x" * size
