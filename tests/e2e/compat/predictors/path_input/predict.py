from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, image: Path = Input(description="Input image")) -> str:
        assert isinstance(image, Path), type(image)
        return f"{image.suffix} {image.read_bytes().decode()}"
