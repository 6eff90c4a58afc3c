from typing import List, Union

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, words: Union[str, List[str]] = Input(description="One word or many", default="solo")) -> str:
        return ",".join(words) if isinstance(words, list) else words
