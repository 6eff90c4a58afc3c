"""Let predictors written for Cog import `cog` when the real package is not installed, and let
those that run with the real package record metrics and read their context through Sprocket."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import runtime
import runtime.predictor
import runtime.scope
import runtime.types
from runtime.version import COG_API_VERSION


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
    cog.__version__ = COG_API_VERSION  # type: ignore[attr-defined]
    cog.__all__ = [*runtime.__all__, "__version__"]  # type: ignore[attr-defined]
    cog.types = runtime.types  # type: ignore[attr-defined]
    cog.predictor = runtime.predictor  # type: ignore[attr-defined]
    sys.modules["cog"] = cog
    sys.modules["cog.types"] = runtime.types
    sys.modules["cog.predictor"] = runtime.predictor
    return True


def prepare_cog() -> str:
    """Before the predictor is imported: the stand-in if there is no real `cog`; otherwise import
    the real one and route its scope to Sprocket (runtime/scope.py says why). Says which."""
    if install_cog_alias():
        return "no cog package installed: predictors get Sprocket's stand-in"
    try:
        cog = importlib.import_module("cog")
    except Exception as error:  # a broken install: the predictor's own import will say more
        return f"the installed cog package does not import: {type(error).__name__}: {error}"
    runtime.scope.route_real_cog_scopes()
    return f"predictors get the installed cog package, version {getattr(cog, '__version__', 'unknown')}"


def cancelation_exceptions() -> tuple[type[BaseException], ...]:
    """What a cancel raises in a synchronous predict(), first the one to raise: the installed
    `cog`'s CancelationException when it exports one (Cog 0.17+, a BaseException), so that a
    predictor's `except cog.CancelationException` sees it; Sprocket's otherwise."""
    exported = getattr(sys.modules.get("cog"), "CancelationException", None)
    ours = runtime.types.CancelationException
    if isinstance(exported, type) and issubclass(exported, BaseException) and exported is not ours:
        return exported, ours
    return (ours,)
