from typing import Optional

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, negative_prompt: Optional[str] = Input(description="What to avoid", default=None)) -> str:
        return "none" if negative_prompt is None else negative_prompt
