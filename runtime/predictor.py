"""The base class predictors subclass, as Cog's `cog.BasePredictor`."""

from __future__ import annotations

from typing import Any

from runtime.types import Path


class BasePredictor:
    """Subclass it, override `predict()` and, to load a model once, `setup()`.

    The server reads predict()'s signature to learn its inputs and output, so every argument needs
    a type annotation (and the return value one too, for a useful schema).
    """

    def setup(self, weights: Path | str | None = None) -> None:
        """Runs once before the first prediction; `weights` comes from COG_WEIGHTS when set."""

    # (*args: Any, **kwargs: Any) lets type checkers accept any override's own arguments.
    def predict(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define predict()")
