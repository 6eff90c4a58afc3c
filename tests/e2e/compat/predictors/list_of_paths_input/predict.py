from typing import List

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, images: List[Path] = Input(description="Frames")) -> str:
        return "+".join(image.read_text() for image in images)
