from typing import Iterator

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, count: int = 3) -> Iterator[int]:
        for index in range(count):
            yield index * index
