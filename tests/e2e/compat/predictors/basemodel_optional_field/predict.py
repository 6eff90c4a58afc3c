from typing import Optional

from cog import BaseModel, BasePredictor


class Output(BaseModel):
    text: str
    warning: Optional[str]


class Predictor(BasePredictor):
    def predict(self) -> Output:
        return Output(text="done")  # `warning` left out: None, as under Cog 0.9
