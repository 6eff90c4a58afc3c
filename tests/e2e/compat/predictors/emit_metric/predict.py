from cog import BasePredictor, emit_metric


class Predictor(BasePredictor):
    def predict(self) -> str:
        emit_metric("images", 2)
        return "ok"
