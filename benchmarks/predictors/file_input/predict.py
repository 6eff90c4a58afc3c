"""Takes a file (sent as a data: URI) and returns its size: the cost of carrying a large input."""

import os

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, file: Path = Input(description="any file")) -> int:
        return os.path.getsize(file)
