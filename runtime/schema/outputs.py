"""Turn what predict() returned (or one item it yielded) into values msgpack can carry, in the worker.

Files leave as `OutputFile` paths; the front reads them and makes data URLs or uploads. Falsy
values (0, False, "", []) are outputs like any other and come back as themselves.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import io
import os
import pathlib
from typing import Any

from runtime.ipc.messages import OutputFile

_PRIMITIVES = frozenset({str, int, float, bool})
_SEQUENCES = (list, tuple, set, frozenset)
_ALLOWED = (
    "str, int, float, bool, None, a Path or file object, a list or dict of these, "
    "or a BaseModel, dataclass or pydantic model made of these"
)


def to_wire(value: Any, workdir: str) -> Any:
    """`value` as None/bool/int/float/str, lists, str-keyed dicts and OutputFiles.

    IO objects are written to new files in `workdir`. `value` itself is not changed (an IO object's
    read position is put back). Raises TypeError for a value that cannot be an output, and
    FileNotFoundError for a returned path with no file behind it.
    """
    if value is None or type(value) in _PRIMITIVES:
        return value
    if isinstance(value, enum.Enum):
        return to_wire(value.value, workdir)
    for primitive in (str, int, float):  # subclasses, as numpy.float64: plain values on the wire
        if isinstance(value, primitive):
            return primitive(value)
    if isinstance(value, dict):
        return {str(key): to_wire(item, workdir) for key, item in value.items()}
    if isinstance(value, _SEQUENCES):
        return [to_wire(item, workdir) for item in value]
    if isinstance(value, pathlib.PurePath):
        return _path_output(pathlib.Path(value))
    if isinstance(value, io.IOBase):
        return _path_output(_save_stream(value, workdir))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    fields = _object_fields(value)
    if fields is not None:
        return to_wire(fields, workdir)
    if callable(getattr(value, "tolist", None)):  # numpy scalars and arrays, torch tensors
        return to_wire(value.tolist(), workdir)
    raise TypeError(f"predict() returned a {type(value).__qualname__}, which cannot be an output; return {_ALLOWED}")


def _object_fields(value: Any) -> dict[str, Any] | None:
    """The fields of a BaseModel, dataclass or pydantic model instance; None for other objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Not dataclasses.asdict(): it deep-copies values, and file objects cannot be copied.
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    fields: dict[str, Any] | None = None
    if callable(getattr(value, "model_dump", None)):  # pydantic 2
        fields = value.model_dump()
    elif callable(getattr(value, "dict", None)) and hasattr(value, "__fields__"):  # pydantic 1
        fields = value.dict()
    return fields


def _path_output(path: pathlib.Path) -> OutputFile:
    path = path.absolute()
    if not path.is_file():
        raise FileNotFoundError(f"predict() returned the path {str(path)!r}, but there is no file there")
    return OutputFile(str(path))


def _save_stream(stream: io.IOBase, workdir: str) -> pathlib.Path:
    name = getattr(stream, "name", None)
    basename = os.path.basename(name) if isinstance(name, str) else ""
    target = _unused_path(pathlib.Path(workdir), basename or "output")
    position = stream.tell() if stream.seekable() else None
    if position is not None:
        stream.seek(0)  # a predictor often returns the buffer it just wrote, positioned at its end
    data = stream.read()
    if position is not None:
        stream.seek(position)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    return target


def _unused_path(directory: pathlib.Path, name: str) -> pathlib.Path:
    # Two outputs may share a name ("output", or two files called "image.png"): keep both.
    candidate = directory / name
    stem, suffix = os.path.splitext(name)
    counter = 1
    while candidate.exists():
        candidate = directory / f"{stem}-{counter}{suffix}"
        counter += 1
    return candidate
