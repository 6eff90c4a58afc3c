from cog import AsyncConcatenateIterator, BasePredictor


class Predictor(BasePredictor):
    async def predict(self, prompt: str = "a b") -> AsyncConcatenateIterator[str]:
        for word in prompt.split():
            yield word
