import tempfile
from typing import Iterator

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self) -> Iterator[Path]:
        for step in range(2):
            output = Path(tempfile.mkdtemp()) / f"step{step}.txt"
            output.write_text(f"step {step}")
            yield output
