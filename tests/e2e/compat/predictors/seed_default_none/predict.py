from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, seed: int = Input(description="Random seed. Leave blank to randomize", default=None)) -> str:
        return "random" if seed is None else f"seed {seed}"
