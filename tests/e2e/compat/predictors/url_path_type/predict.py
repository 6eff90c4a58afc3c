from cog import BasePredictor, Path
from cog.types import URLPath


class Predictor(BasePredictor):
    def predict(self, image: Path) -> str:
        # Models check for a not-yet-downloaded input this way; Sprocket hands over local files.
        return "url" if isinstance(image, URLPath) else "local"
