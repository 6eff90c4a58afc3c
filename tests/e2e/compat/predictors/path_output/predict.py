import tempfile

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, text: str = "hi") -> Path:
        output = Path(tempfile.mkdtemp()) / "out.txt"
        output.write_text(text)
        return output
