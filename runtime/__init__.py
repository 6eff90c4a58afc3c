"""Sprocket's predictor SDK: what `from cog import ...` gives a predictor.

The names load on first use (PEP 562), so the server's own modules, which live in this package
too, can be imported without the SDK: the front's start-up, before it spawns the worker, stays
short.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.predictor import BasePredictor, BaseRunner, concurrent, streaming
    from runtime.scope import current_scope, emit_metric
    from runtime.types import (
        AsyncConcatenateIterator,
        BaseModel,
        CancelationException,
        ConcatenateIterator,
        ExperimentalFeatureWarning,
        FieldInfo,
        File,
        Input,
        Opaque,
        Path,
        Secret,
        URLFile,
        URLPath,
    )

_HOME = {
    **dict.fromkeys(["BasePredictor", "BaseRunner", "concurrent", "streaming"], "runtime.predictor"),
    **dict.fromkeys(["current_scope", "emit_metric"], "runtime.scope"),
    **dict.fromkeys(
        [
            "AsyncConcatenateIterator",
            "BaseModel",
            "CancelationException",
            "ConcatenateIterator",
            "ExperimentalFeatureWarning",
            "FieldInfo",
            "File",
            "Input",
            "Opaque",
            "Path",
            "Secret",
            "URLFile",
            "URLPath",
        ],
        "runtime.types",
    ),
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
