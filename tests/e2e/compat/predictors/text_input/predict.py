from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, prompt: str = Input(description="What to say", default="world")) -> str:
        return f"hello {prompt}"
