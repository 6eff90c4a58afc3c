"""Adaptive batching: concurrent predictions run together in one `predict_batch()` call.

A predictor opts in by giving its class a `predict_batch()` beside `predict()`. It takes the
same arguments as `predict()`, each as a list with one value per prediction (validated, defaults
applied, files in place), and returns a list with one output per prediction, in the same order.
An entry that is an exception fails only its own prediction. Cog knows nothing of
`predict_batch()`, so the same predictor serves single predictions there (its `predict()` usually
calls `predict_batch()` with lists of one):

    class Predictor(BasePredictor):
        max_batch_size = 32   # predictions per predict_batch() call, at most
        batch_wait = 0.005    # seconds an idle worker waits for more to join the first

        def predict(self, text: str = Input()) -> list[float]:
            return self.predict_batch(text=[text])[0]

        def predict_batch(self, text: list[str]) -> list[list[float]]:
            return self.model.encode(text).tolist()

A worker that was idle waits up to `batch_wait` after the first prediction for others; when
predictions are already waiting (they came while the last batch ran) it takes them at once.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from runtime.ipc.messages import PredictorSpec
from runtime.schema.annotations import SignatureError

DEFAULT_MAX_SIZE = 32
DEFAULT_WAIT = 0.005


@dataclass(frozen=True)
class Batching:
    function: Callable[..., Any]
    max_size: int
    wait: float  # seconds


def batching_of(predict: Callable[..., Any], spec: PredictorSpec) -> Batching | None:
    """The predictor's batching, if its class has `predict_batch()`; SignatureError when that
    cannot be served as it is written."""
    owner = getattr(predict, "__self__", None)
    function = getattr(owner, "predict_batch", None)
    if function is None:
        return None
    if not callable(function):
        raise SignatureError("predict_batch is not a method; define def predict_batch(self, ...) or remove it")
    if spec.is_async or spec.is_iterator or inspect.iscoroutinefunction(function):
        raise SignatureError(
            "predict_batch() needs a synchronous predict() and predict_batch() that return "
            "their outputs (no async def, no iterators)"
        )
    wanted = [field.name for field in spec.inputs]
    taken = [name for name in inspect.signature(function).parameters if name != "self"]
    if sorted(taken) != sorted(wanted):
        raise SignatureError(
            f"predict_batch() takes {', '.join(taken) or 'nothing'}; it must take the "
            f"arguments predict() takes ({', '.join(wanted) or 'none'}), each as a list"
        )
    return Batching(
        function,
        _setting(owner, "max_batch_size", DEFAULT_MAX_SIZE, minimum=1, whole=True),
        _setting(owner, "batch_wait", DEFAULT_WAIT, minimum=0, whole=False),
    )


def _setting(owner: Any, name: str, default: Any, *, minimum: float, whole: bool) -> Any:
    value = getattr(owner, name, default)
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        wanted = "a whole number" if whole else "a number of seconds"
        raise SignatureError(f"{name} is {value!r}; it must be {wanted}, at least {minimum}")
    return value
