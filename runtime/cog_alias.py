"""Let predictors written for Cog import `cog` when the real package is not installed."""

from __future__ import annotations

import importlib.util
import sys
import types

import runtime
import runtime.predictor
import runtime.types


def install_cog_alias() -> bool:
    """Register `cog`, `cog.types` and `cog.predictor` as aliases of Sprocket's SDK modules.

    Returns False, changing nothing, when a real `cog` is importable (or already imported): the
    user's own package wins. The aliases hand out the very same objects, so `cog.Path is
    runtime.Path` and isinstance checks agree between predictor and server.
    """
    if "cog" in sys.modules or importlib.util.find_spec("cog") is not None:
        return False
    cog = types.ModuleType("cog", "Sprocket's stand-in for Cog's SDK (see runtime/cog_alias.py).")
    for name in runtime.__all__:
        setattr(cog, name, getattr(runtime, name))
    cog.__all__ = list(runtime.__all__)  # type: ignore[attr-defined]
    cog.types = runtime.types  # type: ignore[attr-defined]
    cog.predictor = runtime.predictor  # type: ignore[attr-defined]
    sys.modules["cog"] = cog
    sys.modules["cog.types"] = runtime.types
    sys.modules["cog.predictor"] = runtime.predictor
    return True
