from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, options: dict = Input(description="Generation options, as JSON")) -> str:
        return ",".join(sorted(options))
