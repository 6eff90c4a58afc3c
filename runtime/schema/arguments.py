"""Turn a Predict message's input into predict() keyword arguments, in the worker.

The front has validated the values, applied defaults and downloaded files: a Path or File input is
already a local path here. What is left is to give each value the type predict() asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from runtime.ipc.messages import InputField, PredictorSpec
from runtime.types import Path, Secret


def build_arguments(spec: PredictorSpec, values: dict[str, Any], files: contextlib.ExitStack) -> dict[str, Any]:
    """predict()'s keyword arguments for `values`; File inputs are opened and pushed onto `files`.

    Inputs absent from `values` are left out. The caller closes `files` once predict() returns;
    `prepared_arguments` does both.
    """

    def open_file(path: str) -> IO[bytes]:
        return files.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by `files`

    converters: dict[str, Callable[[Any], Any]] = {"path": Path, "file": open_file, "secret": Secret}
    arguments: dict[str, Any] = {}
    for field in spec.inputs:
        if field.name in values:
            arguments[field.name] = _convert(field, values[field.name], converters.get(field.kind))
    return arguments


def _convert(field: InputField, value: Any, converter: Callable[[Any], Any] | None) -> Any:
    if value is None or converter is None:
        return value
    if field.is_list:
        return [converter(item) for item in value]
    return converter(value)


@contextlib.contextmanager
def prepared_arguments(spec: PredictorSpec, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """predict()'s keyword arguments, with every File input closed on the way out (even on error)."""
    with contextlib.ExitStack() as files:
        yield build_arguments(spec, values, files)
