import tempfile

import pydantic
from cog import BasePredictor, Path


class Output(pydantic.BaseModel):
    mask: Path
    label: str = "object"


class Predictor(BasePredictor):
    def predict(self) -> Output:
        mask = Path(tempfile.mkdtemp()) / "mask.txt"
        mask.write_text("mask")
        return Output(mask=mask)
