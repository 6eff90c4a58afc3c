from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, prompt: str = Input(description="Required: no default")) -> str:
        return prompt[::-1]
