from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, fail: bool = True) -> str:
        if fail:
            raise ValueError("the model refused")
        return "fine"
