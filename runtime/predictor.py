"""The base classes predictors subclass, and the decorators on their methods, as Cog's SDK has them."""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from runtime.scope import Scope, current_scope
from runtime.types import Path

_F = TypeVar("_F", bound=Callable[..., Any])


class BaseRunner:
    """Subclass it, override `run()` and, to load a model once, `setup()` (Cog 0.20's name; a
    `predict()` works too).

    The server reads run()'s signature to learn its inputs and output, so every argument needs
    a type annotation (and the return value one too, for a useful schema).
    """

    def setup(self, weights: Path | str | None = None) -> None:
        """Runs once before the first prediction; `weights` comes from COG_WEIGHTS when set."""

    # (*args: Any, **kwargs: Any) lets type checkers accept any override's own arguments.
    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define run() or predict()")

    @property
    def scope(self) -> Scope:
        """The running prediction's scope: its request's `context`, and its `metrics`."""
        return current_scope()

    def record_metric(self, key: str, value: Any, mode: str = "replace") -> None:
        """Record a metric of the running prediction; it comes back in the prediction's `metrics`."""
        current_scope().record_metric(key, value, mode)


class BasePredictor(BaseRunner):
    """Cog's original base class: override `predict()` (and `setup()`)."""

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define predict()")


def streaming(fn: _F | None = None) -> Any:
    """Cog 0.21's mark for a predict() that streams; every Sprocket predictor can, so it changes nothing."""
    return fn if fn is not None else (lambda inner: inner)


def concurrent(fn: _F | None = None, *, max: int = 1) -> Any:
    """Cog 0.22's `@concurrent(max=N)`; Sprocket takes the number from `concurrency.max` in cog.yaml."""
    if isinstance(max, bool) or not isinstance(max, int) or max < 1:
        raise ValueError(f"concurrent(max=...) needs a whole number of at least 1, not {max!r}")

    def decorate(inner: _F) -> _F:
        if max > 1 and not (inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner)):
            raise TypeError(f"concurrent(max={max}) needs an async function: `async def {inner.__name__}()`")
        inner.__cog_concurrent_max__ = max  # type: ignore[attr-defined]
        return inner

    return decorate(fn) if fn is not None else decorate
