"""What makes a predict_batch() servable, checked when the predictor loads (runtime/worker/batching.py)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.schema.annotations import SignatureError
from runtime.schema.signature import describe_predictor
from runtime.worker.batching import DEFAULT_MAX_SIZE, DEFAULT_WAIT, Batching, batching_of


def _batching(predictor: Any) -> Batching | None:
    return batching_of(predictor.predict, describe_predictor(predictor.predict))


class Plain:
    def predict(self, text: str) -> str:
        return text


class Batched:
    def predict(self, text: str, times: int = 1) -> str:
        return self.predict_batch(text=[text], times=[times])[0]

    def predict_batch(self, text: list[str], times: list[int]) -> list[str]:
        return [t * n for t, n in zip(text, times, strict=True)]


def test_no_predict_batch_is_no_batching() -> None:
    assert _batching(Plain()) is None


def test_predict_batch_batches_with_the_defaults_or_the_class_settings() -> None:
    batching = _batching(Batched())
    assert batching is not None and (batching.max_size, batching.wait) == (DEFAULT_MAX_SIZE, DEFAULT_WAIT)

    class Tuned(Batched):
        max_batch_size = 4
        batch_wait = 0.02

    tuned = _batching(Tuned())
    assert tuned is not None and (tuned.max_size, tuned.wait) == (4, 0.02)


class WrongArguments(Batched):
    def predict_batch(self, text: list[str]) -> list[str]:  # type: ignore[override]
        return text


class AsyncBatch(Batched):
    async def predict_batch(self, text: list[str], times: list[int]) -> list[str]:  # type: ignore[override]
        return text


class BadSize(Batched):
    max_batch_size = 0


class BadWait(Batched):
    batch_wait = "soon"


@pytest.mark.parametrize(
    ("predictor", "message"),
    [
        (
            WrongArguments(),
            r"predict_batch\(\) takes text; it must take the arguments predict\(\) takes \(text, times\)",
        ),
        (AsyncBatch(), r"predict_batch\(\) needs a synchronous predict\(\) and predict_batch\(\)"),
        (BadSize(), r"max_batch_size is 0; it must be a whole number, at least 1"),
        (BadWait(), r"batch_wait is 'soon'; it must be a number of seconds, at least 0"),
    ],
)
def test_a_predict_batch_that_cannot_be_served_stops_the_load_saying_why(predictor: Any, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        _batching(predictor)
