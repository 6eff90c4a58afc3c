"""Read predict()'s signature into a PredictorSpec, in the worker, once the predictor is imported.

The front never imports user code, so everything it needs to validate requests and write the
OpenAPI document is taken from the annotations here. A signature Sprocket cannot serve raises
SignatureError naming the argument and the fix, and the predictor fails to load.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import io
import pathlib
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from runtime.ipc.messages import InputField, InputKind, PredictorSpec
from runtime.schema.validation import InputValidationError, InputValidator
from runtime.types import AsyncConcatenateIterator, ConcatenateIterator, File, InputOptions, Path, Secret

_SUPPORTED_INPUTS = (
    "str, int, float, bool, Path, File, Secret, list[...] of these, Optional[...] or Literal[...]"
)
_SUPPORTED_OUTPUTS = (
    "str, int, float, bool, Path, File, list[...], dict, Any, Optional[...], a BaseModel, dataclass "
    "or pydantic model, Iterator[...] or ConcatenateIterator[...]"
)
_KINDS: dict[Any, InputKind] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Path: "path",
    pathlib.Path: "path",
    pathlib.PosixPath: "path",
    File: "file",
    Secret: "secret",
}
_OUTPUT_SCALARS: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


_UNIONS = (typing.Union, types.UnionType)
_ITERATORS = (
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
)
_CONCATENATE_ITERATORS = (ConcatenateIterator, AsyncConcatenateIterator)


class SignatureError(TypeError):
    """predict() (or train()) has a signature Sprocket cannot serve; the message says how to fix it."""


def describe_predictor(predict: Callable[..., Any], *, max_concurrency: int = 1) -> PredictorSpec:
    """Describe `predict` (a bound method or a plain function) for the front.

    Raises SignatureError for an argument without annotation, an unsupported type, a default that
    breaks its own constraints, or a return annotation that cannot be described.
    """
    name = f"{getattr(predict, '__name__', 'predict')}()"
    try:
        hints = typing.get_type_hints(predict, include_extras=True)
    except Exception as error:  # NameError for an unresolved forward reference, and friends
        raise SignatureError(f"{name} has annotations that cannot be resolved: {error}") from error
    parameters = list(inspect.signature(predict).parameters.values())
    if parameters and parameters[0].name == "self":  # an unbound method, as Predictor.predict
        parameters = parameters[1:]
    inputs = [_describe_input(name, parameter, hints, order) for order, parameter in enumerate(parameters)]

    returns = hints.get("return", Any)
    output_schema, is_iterator = _describe_return(name, returns)
    generator = inspect.isgeneratorfunction(predict) or inspect.isasyncgenfunction(predict)
    if generator and not is_iterator:  # yields without saying so: the annotation is the item's
        output_schema, is_iterator = {"type": "array", "items": output_schema, "x-cog-array-type": "iterator"}, True
    is_async = inspect.iscoroutinefunction(predict) or inspect.isasyncgenfunction(predict)
    if max_concurrency > 1 and not is_async:
        raise SignatureError(
            f"concurrency.max is {max_concurrency}, but {name} is not async: running predictions "
            f"at once needs `async def predict()`; or set concurrency.max to 1")
    return PredictorSpec(
        inputs=inputs,
        output_schema={**output_schema, "title": "Output"},
        is_iterator=is_iterator,
        is_async=is_async,
        max_concurrency=max_concurrency,
    )


# ---------------------------------------------------------------- inputs


def _describe_input(
    function: str, parameter: inspect.Parameter, hints: dict[str, Any], order: int
) -> InputField:
    where = f"{function} argument {parameter.name!r}"
    if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise SignatureError(f"{where} collects extra arguments (*args/**kwargs); declare each input by name")
    if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise SignatureError(f"{where} is positional-only; inputs are passed by name, so remove the '/'")
    if parameter.name not in hints:
        raise SignatureError(f"{where} has no type annotation; annotate it as one of {_SUPPORTED_INPUTS}")

    kind, is_list, nullable, literal_choices = _input_type(where, hints[parameter.name])
    options = _options(parameter.default)
    if literal_choices is not None and options.choices is not None:
        raise SignatureError(f"{where} has both a Literal type and choices=; keep one of them")
    choices = literal_choices if literal_choices is not None else options.choices
    _check_options_fit(where, kind, options, choices)

    has_default = not options.required or nullable
    default = None if options.required else options.default
    field = InputField(
        name=parameter.name,
        kind=kind,
        order=order,
        is_list=is_list,
        # `x: str = Input(default=None)` is how Cog predictors wrote Optional before it existed.
        nullable=nullable or (has_default and default is None),
        has_default=has_default,
        default=None,
        description=options.description,
        ge=options.ge,
        le=options.le,
        min_length=options.min_length,
        max_length=options.max_length,
        regex=options.regex,
        choices=list(choices) if choices is not None else None,
        deprecated=bool(options.deprecated),
    )
    if default is None:
        return field
    return msgspec.structs.replace(field, default=_checked_default(where, field, default))


def _input_type(where: str, annotation: Any) -> tuple[InputKind, bool, bool, tuple[Any, ...] | None]:
    """(kind, is_list, nullable, Literal choices) for one argument's annotation."""
    written = annotation  # errors name the whole annotation, not the part that failed
    annotation = _strip_annotated(annotation)
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in _UNIONS:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1 or len(typing.get_args(annotation)) != 2:
            raise _unsupported(where, written, "a Union other than Optional[T]")
        nullable = True
        annotation = _strip_annotated(members[0])
        origin = typing.get_origin(annotation)
    is_list = origin is list or annotation is list
    if is_list:
        item_types = typing.get_args(annotation)
        if not item_types:
            raise _unsupported(where, written, "a list without an item type")
        annotation = _strip_annotated(item_types[0])
    if typing.get_origin(annotation) is typing.Literal:
        literal_kind, choices = _literal(where, annotation)
        return literal_kind, is_list, nullable, choices
    kind = _KINDS.get(annotation)
    if kind is None:
        raise _unsupported(where, written, "")
    return kind, is_list, nullable, None


def _literal(where: str, annotation: Any) -> tuple[InputKind, tuple[Any, ...]]:
    values = typing.get_args(annotation)
    value_types = {type(value) for value in values}
    if value_types == {str}:
        return "str", values
    if value_types == {int}:
        return "int", values
    raise SignatureError(f"{where} is {_type_name(annotation)}; Literal values must be all str or all int")


def _options(default: Any) -> InputOptions:
    if isinstance(default, InputOptions):
        return default
    if default is inspect.Parameter.empty:
        return InputOptions()
    return InputOptions(default=default)


def _check_options_fit(where: str, kind: InputKind, options: InputOptions, choices: tuple[Any, ...] | None) -> None:
    if (options.ge is not None or options.le is not None) and kind not in ("int", "float"):
        raise SignatureError(f"{where} sets ge=/le=, which apply only to int and float inputs")
    lengths = options.min_length is not None or options.max_length is not None or options.regex is not None
    if lengths and kind != "str":
        raise SignatureError(f"{where} sets min_length=/max_length=/regex=, which apply only to str inputs")
    if choices is not None and kind not in ("str", "int"):
        raise SignatureError(f"{where} sets choices=, which apply only to str and int inputs")
    if choices is not None and not choices:
        raise SignatureError(f"{where} sets choices= to an empty list; no value could be accepted")
    if options.regex is not None:
        try:
            re.compile(options.regex)
        except re.error as error:
            raise SignatureError(f"{where} has regex={options.regex!r}, which does not compile: {error}") from None


def _checked_default(where: str, field: InputField, default: Any) -> Any:
    """The default as the front will hold it, checked by the very rules requests go through."""
    if isinstance(default, Secret):
        default = default.get_secret_value()
    elif isinstance(default, (list, tuple)):
        default = [item.get_secret_value() if isinstance(item, Secret) else item for item in default]
    probe = PredictorSpec(inputs=[field], output_schema={})
    try:
        return InputValidator(probe).validate({field.name: default})[field.name]
    except InputValidationError as error:
        problems = "; ".join(detail["msg"] for detail in error.errors)
        raise SignatureError(f"{where} has default {default!r}, which its own rules reject: {problems}") from None


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _unsupported(where: str, annotation: Any, what: str) -> SignatureError:
    detail = f" ({what})" if what else ""
    return SignatureError(
        f"{where} has unsupported type {_type_name(annotation)}{detail}; annotate it as one of {_SUPPORTED_INPUTS}"
    )


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


# ---------------------------------------------------------------- output


def _describe_return(function: str, annotation: Any) -> tuple[dict[str, Any], bool]:
    """(JSON schema, is_iterator) for predict()'s return annotation."""
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation) or annotation
    if origin in _ITERATORS or origin in _CONCATENATE_ITERATORS:
        args = typing.get_args(annotation)
        items = _output_schema(function, args[0]) if args else {}
        schema = {"type": "array", "items": items, "x-cog-array-type": "iterator"}
        if origin in _CONCATENATE_ITERATORS:
            schema["x-cog-array-display"] = "concatenate"
        return schema, True
    return _output_schema(function, annotation), False


def _output_schema(function: str, annotation: Any) -> dict[str, Any]:
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return {}
    if annotation is None or annotation is type(None):
        return {"nullable": True}
    if origin in _UNIONS:
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
    if cls in _OUTPUT_SCALARS:
        return dict(_OUTPUT_SCALARS[cls])
    if issubclass(cls, (pathlib.PurePath, io.IOBase)):
        return {"type": "string", "format": "uri"}
    fields = _model_fields(cls)
    if fields is None:
        raise _unsupported_output(function, cls)
    properties = {name: _output_schema(function, annotation) for name, (annotation, _) in fields.items()}
    required = [name for name, (_, is_required) in fields.items() if is_required]
    schema: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _model_fields(cls: type) -> dict[str, tuple[Any, bool]] | None:
    """{field: (annotation, required)} for a BaseModel, dataclass or pydantic model; None otherwise."""
    if dataclasses.is_dataclass(cls):  # includes runtime.types.BaseModel subclasses
        hints = typing.get_type_hints(cls, include_extras=True)
        return {
            field.name: (
                hints.get(field.name, Any),
                field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
            )
            for field in dataclasses.fields(cls)
        }
    pydantic_v2 = getattr(cls, "model_fields", None)
    if isinstance(pydantic_v2, dict):
        return {name: (info.annotation, info.is_required()) for name, info in pydantic_v2.items()}
    pydantic_v1 = getattr(cls, "__fields__", None)
    if isinstance(pydantic_v1, dict):
        return {name: (info.outer_type_, info.required) for name, info in pydantic_v1.items()}
    return None


def _unsupported_output(function: str, annotation: Any) -> SignatureError:
    return SignatureError(
        f"{function} has unsupported return type {_type_name(annotation)}; annotate it as {_SUPPORTED_OUTPUTS}"
    )
