"""Recognise the SDK objects a predictor's signature holds, whichever `cog` made them: Sprocket's
stand-in, Cog 0.9-0.16 (pydantic 1 or 2 underneath) or Cog 0.17+ (plain dataclasses).

Nothing here imports `cog` or pydantic: objects are told apart by what they are (a `FieldInfo`
with pydantic's attributes, a PurePath subclass, a class with `get_secret_value`), so the same
predictor reads the same with or without the real package.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import io
import pathlib
import typing
from typing import Any

from runtime.ipc.messages import InputKind
from runtime.types import InputOptions, Secret

_SCALARS: dict[Any, InputKind] = {str: "str", int: "int", float: "float", bool: "bool"}
_CONCATENATE = frozenset({"ConcatenateIterator", "AsyncConcatenateIterator"})


# ---------------------------------------------------------------- types


def input_kind(annotation: Any) -> InputKind | None:
    """The kind of one (non-list, non-union) input annotation; None if it is not an input type."""
    if is_opaque(annotation) or annotation is dict or typing.get_origin(annotation) is dict:
        return "object"
    kind = _SCALARS.get(annotation)
    if kind is not None or not isinstance(annotation, type):
        return kind
    if issubclass(annotation, pathlib.PurePath):  # cog.Path of any release, pathlib.Path
        return "path"
    if issubclass(annotation, io.IOBase):  # cog.File
        return "file"
    if is_secret_class(annotation):
        return "secret"
    return None


def is_secret_class(cls: type) -> bool:
    """Sprocket's Secret, Cog 0.9's (a pydantic SecretStr) or Cog 0.17's (a dataclass)."""
    return issubclass(cls, Secret) or (cls.__name__ == "Secret" and callable(getattr(cls, "get_secret_value", None)))


def secret_value(value: Any) -> Any:
    """The plain string inside any release's Secret; other values as they are."""
    reveal = getattr(value, "get_secret_value", None)
    return reveal() if callable(reveal) and is_secret_class(type(value)) else value


def iterator_kind(origin: Any) -> tuple[bool, bool]:
    """(is an iterator, shown concatenated) for a return annotation's origin class."""
    if not isinstance(origin, type) or issubclass(origin, io.IOBase):  # a file iterates its lines
        return False, False
    iterates = issubclass(origin, (collections.abc.Iterator, collections.abc.AsyncIterator))
    return iterates, iterates and origin.__name__ in _CONCATENATE


def is_opaque(annotation: Any) -> bool:
    """`Annotated[T, cog.Opaque]` (Cog 0.20+): T taken as a JSON object, passed through as it is."""
    return typing.get_origin(annotation) is typing.Annotated and any(
        repr(marker) == "cog.Opaque" for marker in annotation.__metadata__
    )


# ---------------------------------------------------------------- Input(...)


def is_cog_dataclass_input(default: Any) -> bool:
    """Whether `default` is what Cog 0.17+'s Input() returns (a dataclass named FieldInfo)."""
    return type(default).__name__ == "FieldInfo" and dataclasses.is_dataclass(default)


def input_options(default: Any, default_written: bool | None) -> InputOptions | None:
    """The options of an `Input(...)` made by any release; None when `default` is not one (a
    plain default, or no default at all).

    `default_written` says whether the predictor's source passes a default to that Input() call
    (None if the source could not be read). Only Cog 0.17+ needs it: its `Input()` stores None
    both for "no default" and for `default=None`.
    """
    if isinstance(default, InputOptions):
        return default
    if type(default).__name__ != "FieldInfo":
        return None
    if callable(getattr(default, "is_required", None)) and isinstance(getattr(default, "metadata", None), list):
        return _from_pydantic_2(default)
    if isinstance(getattr(default, "extra", None), dict):
        return _from_pydantic_1(default)
    if is_cog_dataclass_input(default):
        return _from_cog_dataclass(default, default_written)
    return None


def _options(default: Any, required: bool, **fields: Any) -> InputOptions:
    choices = fields.pop("choices", None)
    kept = {name: value for name, value in fields.items() if value is not None}
    if choices is not None:
        kept["choices"] = tuple(choices)
    return InputOptions(**kept) if required else InputOptions(default=default, **kept)


def _from_pydantic_1(field: Any) -> InputOptions:
    # Cog 0.9 keeps `choices` in pydantic's extras; Cog 0.11-0.16 on pydantic 1 calls it `enum`.
    extra = field.extra
    return _options(
        field.default,
        field.default is Ellipsis,
        **_constraints_as_attributes(field),
        choices=extra.get("choices") or extra.get("enum"),
        deprecated=extra.get("deprecated"),
    )


def _constraints_as_attributes(field: Any) -> dict[str, Any]:
    """The options pydantic 1's FieldInfo and Cog 0.17+'s dataclass both keep as attributes."""
    names = ("description", "ge", "le", "min_length", "max_length", "regex")
    return {name: getattr(field, name) for name in names}


def _from_pydantic_2(field: Any) -> InputOptions:
    # Constraints are annotated-types objects in `metadata`; Cog puts choices in the schema extras.
    constraints: dict[str, Any] = {}
    for item in field.metadata:
        for name in ("ge", "le", "min_length", "max_length", "pattern"):
            if getattr(item, name, None) is not None:
                constraints[name] = getattr(item, name)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    deprecated = getattr(field, "deprecated", None)
    return _options(
        field.default,
        field.is_required(),
        description=field.description,
        ge=constraints.get("ge"),
        le=constraints.get("le"),
        min_length=constraints.get("min_length"),
        max_length=constraints.get("max_length"),
        regex=constraints.get("pattern"),
        choices=extra.get("enum"),
        deprecated=deprecated if isinstance(deprecated, bool) else None,
    )


def _from_cog_dataclass(field: Any, default_written: bool | None) -> InputOptions:
    required = field.default is None and not default_written
    return _options(
        field.default,
        required,
        **_constraints_as_attributes(field),
        choices=field.choices,
        deprecated=field.deprecated,
    )
