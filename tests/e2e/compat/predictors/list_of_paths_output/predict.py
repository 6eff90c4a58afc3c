import tempfile
from typing import List

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, count: int = 2) -> List[Path]:
        directory = Path(tempfile.mkdtemp())
        outputs = []
        for index in range(count):
            output = directory / f"frame{index}.txt"
            output.write_text(str(index))
            outputs.append(output)
        return outputs
