from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self) -> str:
        return current_scope().context.get("user", "anonymous")
