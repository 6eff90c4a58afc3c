from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self, name: str = Input(description="A lower-case name", min_length=2, max_length=8, regex="^[a-z]+$")
    ) -> str:
        return name.upper()
