"""Sprocket's predictor SDK: what `from cog import ...` gives a predictor.

The names load on first use (PEP 562), so the server's own modules, which live in this package
too, can be imported without the SDK: the front's start-up, before it spawns the worker, stays
short.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.predictor import BasePredictor
    from runtime.types import (
        AsyncConcatenateIterator,
        BaseModel,
        CancelationException,
        ConcatenateIterator,
        File,
        Input,
        Path,
        Secret,
    )

_HOME = {
    "AsyncConcatenateIterator": "runtime.types",
    "BaseModel": "runtime.types",
    "BasePredictor": "runtime.predictor",
    "CancelationException": "runtime.types",
    "ConcatenateIterator": "runtime.types",
    "File": "runtime.types",
    "Input": "runtime.types",
    "Path": "runtime.types",
    "Secret": "runtime.types",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
