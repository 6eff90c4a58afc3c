"""Import the user's predictor from a reference like "predict.py:Predictor".

Each way loading can go wrong gets its own message: the file is missing, importing it raised
(with that traceback kept), or the name is absent or of the wrong kind.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from typing import Any


class LoadError(Exception):
    """The predictor could not be loaded. `details` holds a traceback when there is one."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


_SDK_PACKAGES = ("cog", "coglet", "runtime")


def _prediction_method(cls: type) -> str:
    """ "run" for a Cog 0.20+ BaseRunner whose subclass defines run(), else "predict": the first
    of the two the user's own classes define, looking no further than the SDK's base classes."""
    for owner in inspect.getmro(cls):
        if owner.__module__.split(".")[0] in _SDK_PACKAGES or owner is object:
            break
        for name in ("run", "predict"):
            if callable(owner.__dict__.get(name)):
                return name
    return "predict"


def load_predictor(ref: str, workdir: str, method: str = "predict") -> Any:
    """Return the bound `method` of the class `ref` names (instantiated), or the function it names.

    `method` is "predict" for predictors (or "run", which a BaseRunner defines instead) and
    "train" for trainers."""
    file_name, _, attribute = ref.partition(":")
    if not attribute:
        raise LoadError(f"predictor reference {ref!r} must look like 'predict.py:Predictor'")
    path = os.path.join(workdir, file_name)
    if not os.path.isfile(path):
        raise LoadError(f"predictor file {file_name} not found in {workdir}")
    module_name = os.path.splitext(os.path.basename(file_name))[0]
    # Predictors import their sibling modules by plain name, as they would under Cog.
    if workdir not in sys.path:
        sys.path.insert(0, workdir)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # SystemExit and KeyboardInterrupt at import time too
        raise LoadError(
            f"importing {file_name} failed: {type(error).__name__}: {error}", traceback.format_exc()
        ) from None
    target = getattr(module, attribute, None)
    if target is None:
        raise LoadError(f"{file_name} has no {attribute!r}; cog.yaml's predict names it")
    if inspect.isclass(target):
        if method == "predict":
            method = _prediction_method(target)
        if not callable(getattr(target, method, None)):
            raise LoadError(f"{attribute} in {file_name} has no {method}() method")
        try:
            return getattr(target(), method)
        except Exception as error:
            raise LoadError(
                f"creating {attribute}() failed: {type(error).__name__}: {error}", traceback.format_exc()
            ) from None
    if inspect.isfunction(target):
        return target
    raise LoadError(f"{attribute} in {file_name} is a {type(target).__name__}, not a class or function")
