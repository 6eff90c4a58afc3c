"""Sprocket's predictor SDK: what `from cog import ...` gives a predictor.

Only the SDK lives here, so importing `runtime` (as every predictor does, through `cog`) stays
cheap: no server, IPC or validation code is loaded.
"""

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

__all__ = [
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "CancelationException",
    "ConcatenateIterator",
    "File",
    "Input",
    "Path",
    "Secret",
]
