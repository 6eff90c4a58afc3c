"""The types a predictor uses in its signature, as Cog's `cog` package offers them.

Everything here is plain Python: predictors import it, so it must stay cheap to import and must
not pull in the server (aiohttp, zmq) or pydantic.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import types
import typing
from typing import Any, ClassVar, Iterator, TypeVar, Union

from runtime.url_files import FILENAME_ILLEGAL_CHARS, FILENAME_MAX_LENGTH, URLFile, URLPath, get_filename

__all__ = [
    "FILENAME_ILLEGAL_CHARS",
    "FILENAME_MAX_LENGTH",
    "AsyncConcatenateIterator",
    "BaseModel",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "FieldInfo",
    "File",
    "Input",
    "Opaque",
    "Path",
    "Secret",
    "URLFile",
    "URLPath",
    "Weights",
    "get_filename",
]

_T_co = TypeVar("_T_co", covariant=True)

SECRET_MASK = "**********"


class _PydanticField:
    """Lets a user's pydantic model (pydantic 1 or 2) hold this type as a field, as Cog's own
    types allow: `class Output(pydantic.BaseModel): image: Path`. pydantic is imported only when
    pydantic asks, so the SDK itself never loads it."""

    __slots__ = ()
    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {"type": "string", "format": "uri"}

    @classmethod
    def _from_pydantic(cls, value: Any) -> Any:
        return value if isinstance(value, cls) else cls(value)  # type: ignore[call-arg] # Path(str), Secret(str)

    @classmethod
    def __get_validators__(cls) -> Iterator[Any]:  # pydantic 1
        yield cls._from_pydantic

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:  # pydantic 1
        field_schema.update(cls._JSON_SCHEMA)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # pydantic 2
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(cls._from_pydantic)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:  # pydantic 2
        return dict(cls._JSON_SCHEMA)


class Path(_PydanticField, pathlib.PosixPath):
    """A file path. Inputs arrive as local files already downloaded by the server."""


class File(_PydanticField, io.IOBase):
    """Cog's deprecated file type, kept so old predictors run.

    As an input annotation the predictor receives an open binary file; as an output any IO object
    (BytesIO, StringIO, an open file) is saved and returned as a file.
    """

    @classmethod
    def _from_pydantic(cls, value: Any) -> Any:
        if not isinstance(value, io.IOBase):
            raise ValueError(f"a File field holds a file object, not a {type(value).__name__}")
        return value


Weights = Union[File, Path, str]  # what setup(weights=...) may be annotated as


class ExperimentalFeatureWarning(FutureWarning):
    """Cog warned with this about features it called experimental; models still filter it."""


class Secret(_PydanticField):
    """A string that prints masked, so it stays out of logs and echoed inputs."""

    __slots__ = ("_value",)
    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {"type": "string", "format": "password", "x-cog-secret": True}

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return SECRET_MASK

    def __repr__(self) -> str:
        return SECRET_MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ConcatenateIterator(typing.Iterator[_T_co]):
    """Return annotation for a predict() whose yielded strings are one text, shown joined."""


class AsyncConcatenateIterator(typing.AsyncIterator[_T_co]):
    """The `async def` counterpart of ConcatenateIterator."""


_REQUIRED: Any = object()


class _OpaqueMarker:
    """`Annotated[T, Opaque]`: take T as an opaque JSON object (Cog 0.20+)."""

    def __repr__(self) -> str:
        return "cog.Opaque"


Opaque = _OpaqueMarker()


@dataclasses.dataclass(frozen=True)
class InputOptions:
    """What `Input(...)` returns: the options of one predict() argument, read by the signature reader."""

    default: Any = _REQUIRED
    description: str | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    choices: tuple[Any, ...] | None = None
    deprecated: bool | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


FieldInfo = InputOptions  # Cog's name for it


def Input(
    default: Any = _REQUIRED,
    description: str | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    regex: str | None = None,
    choices: typing.Iterable[Any] | None = None,
    deprecated: bool | None = None,
) -> Any:
    """Describe a predict() argument; leave out `default` to make it required.

    Typed `Any` so `x: str = Input(...)` type-checks, as it does with Cog.
    """
    return InputOptions(
        default=default,
        description=description,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        regex=regex,
        choices=tuple(choices) if choices is not None else None,
        deprecated=deprecated,
    )


@typing.dataclass_transform(kw_only_default=True)  # so type checkers know the generated __init__
class BaseModel:
    """Base for structured outputs: annotated class attributes become keyword-constructed fields.

    Each subclass is turned into a dataclass when it is defined, so outputs encode like dataclasses.
    An Optional field without a default defaults to None, as under Cog 0.9 (pydantic).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _optional_fields_without_default(cls):
            setattr(cls, name, None)
        dataclasses.dataclass(kw_only=True)(cls)


def _optional_fields_without_default(cls: type) -> list[str]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference not resolvable yet: such fields stay required
        return []
    own = cls.__dict__.get("__annotations__", {})
    return [name for name in own if name not in cls.__dict__ and _allows_none(hints.get(name))]


def _allows_none(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType) and type(None) in typing.get_args(annotation)


class CancelationException(BaseException):
    """Raised inside a synchronous predict() when its prediction is canceled.

    A BaseException, so a predictor's `except Exception` does not swallow the cancel.
    """
