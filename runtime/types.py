"""The types a predictor uses in its signature, as Cog's `cog` package offers them.

Everything here is plain Python: predictors import it, so it must stay cheap to import and must
not pull in the server (aiohttp, zmq) or pydantic.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import typing
from typing import Any, TypeVar

_T_co = TypeVar("_T_co", covariant=True)

SECRET_MASK = "**********"


class Path(pathlib.PosixPath):
    """A file path. Inputs arrive as local files already downloaded by the server."""


class File(io.IOBase):
    """Cog's deprecated file type, kept so old predictors run.

    As an input annotation the predictor receives an open binary file; as an output any IO object
    (BytesIO, StringIO, an open file) is saved and returned as a file.
    """


class Secret:
    """A string that prints masked, so it stays out of logs and echoed inputs."""

    __slots__ = ("_value",)

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


def Input(  # noqa: N802 - named like a class, as in Cog
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
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(kw_only=True)(cls)


class CancelationException(BaseException):
    """Raised inside a synchronous predict() when its prediction is canceled.

    A BaseException, so a predictor's `except Exception` does not swallow the cancel.
    """
