"""`current_scope()`: what a running prediction can read (its request's `context`) and record
(its `metrics`), as Cog's SDK offers it.

The worker enters a scope around each predict() call (`entered_scope`); its metrics travel back
with the prediction's result. Outside a prediction `current_scope()` returns a scope that keeps
nothing, as Cog's does, so a predictor that records metrics in setup() still loads.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import Any

_MODES = ("replace", "incr", "append")
_RESERVED = "predict_time"
_VALUE_TYPES = (bool, int, float, str, list, dict)  # what travels to the front and into JSON


class MetricRecorder:
    """A prediction's metrics: `record(key, value, mode)`, or `metrics[key] = value`; dots in a key
    nest (`"timing.inference"`), a value of None deletes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def record(self, key: str, value: Any, mode: str | None = None) -> None:
        mode = mode or "replace"
        if mode not in _MODES:
            raise ValueError(f"metric mode {mode!r} is not one of {', '.join(_MODES)}")
        if not isinstance(key, str) or not key or key == _RESERVED or key.startswith("cog."):
            raise ValueError(f"metric name {key!r} is not allowed: {_RESERVED!r} and 'cog.*' are the server's")
        if value is not None and not isinstance(value, _VALUE_TYPES):
            raise TypeError(f"metric {key!r} is a {type(value).__name__}; record a bool, int, float, str, list or dict")
        *parents, name = key.split(".")
        table = self.values
        for parent in parents:
            child = table.get(parent)
            if not isinstance(child, dict):
                child = table[parent] = {}
            table = child
        if value is None:
            table.pop(name, None)
        elif mode == "incr":
            table[name] = table.get(name, 0) + value
        elif mode == "append":
            table.setdefault(name, []).append(value)
        else:
            table[name] = value

    def delete(self, key: str) -> None:
        self.record(key, None)

    def __setitem__(self, key: str, value: Any) -> None:
        self.record(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __repr__(self) -> str:
        return f"MetricRecorder({self.values!r})"


class Scope:
    """One prediction's scope: the request's `context` (a dict of strings) and its `metrics`."""

    def __init__(self, context: dict[str, str] | None = None) -> None:
        self.context: dict[str, str] = dict(context or {})
        self.metrics = MetricRecorder()

    def record_metric(self, key: str, value: Any, mode: str | None = None) -> None:
        self.metrics.record(key, value, mode)


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("sprocket_scope", default=None)


def current_scope() -> Scope:
    """The running prediction's scope; outside one, a scope whose records go nowhere."""
    return _current.get() or Scope()


def emit_metric(name: str, value: Any) -> None:
    """Cog 0.13's spelling of `current_scope().record_metric(name, value)`, still found in models."""
    current_scope().record_metric(name, value)


@contextlib.contextmanager
def entered_scope(scope: Scope) -> Iterator[Scope]:
    """Make `scope` the current one for the code inside the `with` (in this thread or task)."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def route_real_cog_scopes() -> None:
    """Make an installed `cog` package's `current_scope()` (and, for Cog 0.17+, `BaseRunner.scope`
    and `record_metric`, which ask coglet) answer with Sprocket's scope.

    The scope belongs to whichever server runs the prediction: under Sprocket that is Sprocket,
    so this is the one place Sprocket changes the real package. Call it before the predictor is
    imported, so that `from cog import current_scope` picks up this function.
    """
    cog = sys.modules.get("cog")
    if cog is not None and hasattr(cog, "current_scope"):
        cog.current_scope = current_scope  # type: ignore[attr-defined]
    coglet_sdk = getattr(sys.modules.get("coglet"), "_sdk", None)
    if coglet_sdk is not None:
        coglet_sdk.current_scope = current_scope
