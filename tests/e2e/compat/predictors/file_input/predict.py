from cog import BasePredictor, File, Input


class Predictor(BasePredictor):
    def predict(self, document: File = Input(description="A text file")) -> str:
        return document.read().decode().upper()
