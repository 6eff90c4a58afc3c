import tempfile

from cog import BaseModel, BasePredictor, Path


class Output(BaseModel):
    caption: str
    image: Path
    score: float = 0.5


class Predictor(BasePredictor):
    def predict(self, caption: str = "a cat") -> Output:
        image = Path(tempfile.mkdtemp()) / "cat.txt"
        image.write_text("meow")
        return Output(caption=caption, image=image, score=0.9)
