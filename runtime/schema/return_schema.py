"""The JSON schema of predict()'s return annotation, for the OpenAPI document's `Output`.

Scalars (and numpy's), paths and files, lists, dicts, Optional and Union, the object types
models return (a BaseModel of any `cog`, a dataclass, a TypedDict, a pydantic 1 or 2 model, each
property titled and its default shown, as Cog's pydantic-made schemas are), and iterators.
"""

from __future__ import annotations

import dataclasses
import io
import numbers
import pathlib
import typing
from typing import Any

from runtime.schema.annotations import UNIONS, SignatureError, strip_annotated, type_name
from runtime.schema.cog_objects import is_opaque, iterator_kind
from runtime.schema.openapi import property_title

_SUPPORTED_OUTPUTS = (
    "str, int, float, bool, Path, File, list[...], dict, Any, Optional[...], a BaseModel, dataclass, "
    "TypedDict or pydantic model, a numpy scalar, Iterator[...] or ConcatenateIterator[...]"
)
_OUTPUT_SCALARS: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def describe_return(function: str, annotation: Any) -> tuple[dict[str, Any], bool]:
    """(JSON schema, is_iterator) for predict()'s return annotation."""
    annotation = strip_annotated(annotation)
    is_iterator, concatenate = iterator_kind(typing.get_origin(annotation) or annotation)
    if is_iterator:
        args = typing.get_args(annotation)
        items = _output_schema(function, args[0]) if args else {}
        schema = {"type": "array", "items": items, "x-cog-array-type": "iterator"}
        if concatenate:
            schema["x-cog-array-display"] = "concatenate"
        return schema, True
    return _output_schema(function, annotation), False


def _output_schema(function: str, annotation: Any) -> dict[str, Any]:
    if is_opaque(annotation):
        return {"type": "object"}
    annotation = strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return {}
    if annotation is None or annotation is type(None):
        return {"nullable": True}
    if origin in UNIONS:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        schema = (
            _output_schema(function, members[0])
            if len(members) == 1
            else {"anyOf": [_output_schema(function, member) for member in members]}
        )
        return {**schema, "nullable": True} if nullable else schema
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset):
        args = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        same = len(set(args)) == 1
        return {"type": "array", "items": _output_schema(function, args[0]) if same else {}}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    if isinstance(annotation, type):
        return _class_schema(function, annotation)
    raise _unsupported_output(function, annotation)


def _class_schema(function: str, cls: type) -> dict[str, Any]:
    scalar = _scalar_schema(cls)
    if scalar is not None:
        return scalar
    if issubclass(cls, (pathlib.PurePath, io.IOBase)):
        return {"type": "string", "format": "uri"}
    fields = _model_fields(cls)
    if fields is None:
        raise _unsupported_output(function, cls)
    properties = {name: _property_schema(function, name, field) for name, field in fields.items()}
    required = [name for name, field in fields.items() if field.required]
    schema: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _scalar_schema(cls: type) -> dict[str, Any] | None:
    """str, int, float, bool and their look-alikes: numpy's scalars (np.float64, np.int32, np.bool_)."""
    for python_type, schema in _OUTPUT_SCALARS.items():
        if cls is python_type:
            return dict(schema)
    if cls.__module__ == "numpy" and cls.__name__ in ("bool_", "bool"):
        return {"type": "boolean"}
    # numpy registers its integer and floating types with the numbers ABCs.
    if issubclass(cls, numbers.Integral) and not issubclass(cls, bool):
        return {"type": "integer"}
    if issubclass(cls, numbers.Real):
        return {"type": "number"}
    return None


@dataclasses.dataclass(frozen=True)
class _ModelField:
    annotation: Any
    required: bool
    default: Any = None
    has_default: bool = False


def _property_schema(function: str, name: str, field: _ModelField) -> dict[str, Any]:
    # As Cog's (pydantic's) schemas: each property titled after its name, and its default shown.
    schema = {"title": property_title(name), **_output_schema(function, field.annotation)}
    if field.has_default and _is_json(field.default):
        schema["default"] = field.default
    return schema


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(_is_json, value))
    return isinstance(value, dict) and all(isinstance(k, str) and _is_json(v) for k, v in value.items())


def _model_fields(cls: type) -> dict[str, _ModelField] | None:
    """The fields of a BaseModel, dataclass, TypedDict or pydantic model; None for other classes."""
    if dataclasses.is_dataclass(cls):  # includes the BaseModel of Sprocket and of Cog 0.17+
        hints = typing.get_type_hints(cls, include_extras=True)
        return {field.name: _dataclass_field(field, hints.get(field.name, Any)) for field in dataclasses.fields(cls)}
    if typing.is_typeddict(cls):
        hints = typing.get_type_hints(cls, include_extras=True)
        required_keys = getattr(cls, "__required_keys__", frozenset(hints))
        return {name: _ModelField(annotation, name in required_keys) for name, annotation in hints.items()}
    pydantic_v2 = getattr(cls, "model_fields", None)
    if isinstance(pydantic_v2, dict):
        return {
            name: _ModelField(info.annotation, info.is_required(), info.default, not info.is_required())
            for name, info in pydantic_v2.items()
        }
    pydantic_v1 = getattr(cls, "__fields__", None)
    if isinstance(pydantic_v1, dict):
        # The written annotation, not pydantic 1's `outer_type_`, which drops Optional.
        hints = typing.get_type_hints(cls, include_extras=True)
        return {
            name: _ModelField(hints.get(name, info.outer_type_), info.required, info.default, not info.required)
            for name, info in pydantic_v1.items()
        }
    return None


def _dataclass_field(field: dataclasses.Field[Any], annotation: Any) -> _ModelField:
    if field.default is not dataclasses.MISSING:
        return _ModelField(annotation, False, field.default, True)
    return _ModelField(annotation, field.default_factory is dataclasses.MISSING)


def _unsupported_output(function: str, annotation: Any) -> SignatureError:
    return SignatureError(
        f"{function} has unsupported return type {type_name(annotation)}; annotate it as {_SUPPORTED_OUTPUTS}"
    )
