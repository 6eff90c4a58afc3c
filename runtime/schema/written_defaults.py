"""Which `Input(...)` calls in a function's source pass a default, read from the source itself.

Cog 0.17+'s `Input()` returns None as the default both when none is given (a required input)
and for `Input(default=None)` (an optional one, the usual way to write "seed: int = Input(
default=None)"). Only the source can tell them apart, as Cog's own build-time schema generator,
which parses predict.py, does.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Callable


def inputs_with_written_default(function: Callable[..., Any]) -> set[str] | None:
    """Names of the arguments whose default is a call (`Input(...)`) that passes a default, by
    keyword or first in line; None when the source cannot be read or parsed."""
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    definition = next(
        (node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None
    )
    if definition is None:
        return None
    arguments = definition.args
    positional = [*arguments.posonlyargs, *arguments.args]
    pairs = list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True))
    pairs += [
        (argument, default)
        for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is not None
    ]
    return {argument.arg for argument, default in pairs if _passes_default(default)}


def _passes_default(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    return bool(node.args) or any(keyword.arg == "default" for keyword in node.keywords)
