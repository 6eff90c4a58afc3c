"""Turn a Predict message's input into predict() keyword arguments, in the worker.

The front has validated the values, applied defaults and downloaded files: a Path or File input is
already a local path here. What is left is to give each value the type predict() asked for: the
class its annotation names (the installed `cog`'s Path or Secret, say) when the signature reader
passed one, Sprocket's own otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from runtime.ipc.messages import InputField, PredictorSpec
from runtime.types import Path, Secret

Converter = Callable[[Any], Any]


def build_arguments(
    spec: PredictorSpec,
    values: dict[str, Any],
    files: contextlib.ExitStack,
    classes: dict[str, Converter] | None = None,
) -> dict[str, Any]:
    """predict()'s keyword arguments for `values`; File inputs are opened and pushed onto `files`.
    `classes` maps an input's name to the class to make its values as.

    Inputs absent from `values` are left out. The caller closes `files` once predict() returns;
    `prepared_arguments` does both.
    """

    def open_file(path: str) -> IO[bytes]:
        return files.enter_context(open(path, "rb"))  # closed by `files`

    by_kind: dict[str, Converter] = {"path": Path, "file": open_file, "secret": Secret}
    arguments: dict[str, Any] = {}
    for field in spec.inputs:
        if field.name in values:
            converter = (classes or {}).get(field.name) or by_kind.get(field.kind)
            arguments[field.name] = _convert(field, values[field.name], converter)
    return arguments


def _convert(field: InputField, value: Any, converter: Converter | None) -> Any:
    if value is None or converter is None:
        return value
    if field.is_list:
        return [converter(item) for item in value]
    return converter(value)


@contextlib.contextmanager
def prepared_arguments(
    spec: PredictorSpec, values: dict[str, Any], classes: dict[str, Converter] | None = None
) -> Iterator[dict[str, Any]]:
    """predict()'s keyword arguments, with every File input closed on the way out (even on error)."""
    with contextlib.ExitStack() as files:
        yield build_arguments(spec, values, files, classes)
