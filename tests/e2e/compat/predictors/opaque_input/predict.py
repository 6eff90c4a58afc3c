from typing import Annotated, Any

from cog import BasePredictor, Opaque


class Predictor(BasePredictor):
    def predict(self, messages: Annotated[Any, Opaque]) -> Annotated[Any, Opaque]:
        return {"echo": messages}
