from cog import BasePredictor, ConcatenateIterator


class Predictor(BasePredictor):
    def predict(self, prompt: str = "the quick fox") -> ConcatenateIterator[str]:
        for word in prompt.split():
            yield word + " "
