"""What the signature reader and the return-type describer share: the error a signature
Sprocket cannot serve raises, and how annotations are unwrapped and named in its messages."""

from __future__ import annotations

import types
import typing
from typing import Any

from runtime.schema.cog_objects import is_opaque

UNIONS = (typing.Union, types.UnionType)  # Optional[X], Union[X, Y] and X | Y


class SignatureError(TypeError):
    """predict() (or train()) has a signature Sprocket cannot serve; the message says how to fix it."""


def strip_annotated(annotation: Any) -> Any:
    """The type inside `Annotated[...]`, unless the annotation marks it opaque (cog.Opaque)."""
    while typing.get_origin(annotation) is typing.Annotated and not is_opaque(annotation):
        annotation = typing.get_args(annotation)[0]
    return annotation


def type_name(annotation: Any) -> str:
    """How an error message shows an annotation: `str`, `list[int]`, `Union[int, dict]`."""
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
