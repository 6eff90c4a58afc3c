"""Yields `count` tokens, like a language model streaming text: time to first token and to the end."""

from cog import BasePredictor, ConcatenateIterator, Input

try:  # Cog 0.21+ marks predictors whose output may be streamed over SSE; older Cog has no marker.
    from cog import streaming
except ImportError:  # pragma: no cover - depends on the server under test

    def streaming(fn):  # type: ignore[no-untyped-def]
        return fn


class Predictor(BasePredictor):
    @streaming
    def predict(self, count: int = Input(description="tokens to yield", default=1000)) -> ConcatenateIterator[str]:
        for i in range(count):
            yield f"tok{i} "
