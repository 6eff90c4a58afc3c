"""Read predict()'s signature into a PredictorSpec, in the worker, once the predictor is imported.

The front never imports user code, so everything it needs to validate requests and write the
OpenAPI document is taken from the annotations here. A signature Sprocket cannot serve raises
SignatureError naming the argument and the fix, and the predictor fails to load.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from runtime.ipc.messages import InputField, InputKind, PredictorSpec
from runtime.schema.annotations import UNIONS, SignatureError, strip_annotated, type_name
from runtime.schema.cog_objects import input_kind, input_options, is_cog_dataclass_input, secret_value
from runtime.schema.return_schema import describe_return
from runtime.schema.validation import InputValidationError, InputValidator
from runtime.types import InputOptions

_SUPPORTED_INPUTS = (
    "str, int, float, bool, Path, File, Secret, dict, list[...] of these, Optional[...], Literal[...] "
    "or a Union of str, int, float, bool and lists of them"
)
_UNION_MEMBER_KINDS = ("str", "int", "float", "bool")

Converter = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class _InputType:
    """What one argument's annotation says: its kind, whether it is a list or may be null, the
    allowed values a Literal gives, the members of a Union, and the class its values are made as."""

    kind: InputKind
    is_list: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    alternatives: tuple[InputField, ...] = ()
    cls: Any = None


def describe_predictor(predict: Callable[..., Any], *, max_concurrency: int = 1) -> PredictorSpec:
    """Describe `predict` (a bound method or a plain function) for the front.

    Raises SignatureError for an argument without annotation, an unsupported type, a default that
    breaks its own constraints, or a return annotation that cannot be described.
    """
    return read_predictor(predict, max_concurrency=max_concurrency)[0]


def read_predictor(
    predict: Callable[..., Any], *, max_concurrency: int = 1
) -> tuple[PredictorSpec, dict[str, Converter]]:
    """`describe_predictor`, and for the worker the class each Path and Secret input's values are
    made as (the predictor's own `cog.Path`, `cog.Secret`, whichever release it comes from)."""
    name = f"{getattr(predict, '__name__', 'predict')}()"
    try:
        hints = typing.get_type_hints(predict, include_extras=True)
    except Exception as error:  # NameError for an unresolved forward reference, and friends
        raise SignatureError(f"{name} has annotations that cannot be resolved: {error}") from error
    parameters = list(inspect.signature(predict).parameters.values())
    if parameters and parameters[0].name == "self":  # an unbound method, as Predictor.predict
        parameters = parameters[1:]
    written = _written_defaults(predict, parameters)
    inputs: list[InputField] = []
    converters: dict[str, Converter] = {}
    for order, parameter in enumerate(parameters):
        field, cls = _describe_input(name, parameter, hints, order, written)
        inputs.append(field)
        if field.kind in ("path", "secret") and cls is not None:
            converters[field.name] = cls

    returns = hints.get("return", Any)
    output_schema, is_iterator = describe_return(name, returns)
    generator = inspect.isgeneratorfunction(predict) or inspect.isasyncgenfunction(predict)
    if generator and not is_iterator:  # yields without saying so: the annotation is the item's
        output_schema, is_iterator = {"type": "array", "items": output_schema, "x-cog-array-type": "iterator"}, True
    is_async = inspect.iscoroutinefunction(predict) or inspect.isasyncgenfunction(predict)
    if max_concurrency > 1 and not is_async:
        raise SignatureError(
            f"concurrency.max is {max_concurrency}, but {name} is not async: running predictions "
            f"at once needs `async def predict()`; or set concurrency.max to 1"
        )
    spec = PredictorSpec(
        inputs=inputs,
        output_schema={**output_schema, "title": "Output"},
        is_iterator=is_iterator,
        is_async=is_async,
        max_concurrency=max_concurrency,
    )
    return spec, converters


# ---------------------------------------------------------------- inputs


def _written_defaults(predict: Callable[..., Any], parameters: list[inspect.Parameter]) -> set[str] | None:
    """The arguments whose Input() the source gives a default, for Cog 0.17+'s Input(), which
    stores None for both; None when no argument uses it (the source is parsed only then, and
    `ast` loaded only then: it is on the worker's path to READY)."""
    if not any(is_cog_dataclass_input(parameter.default) for parameter in parameters):
        return None
    from runtime.schema.written_defaults import inputs_with_written_default

    return inputs_with_written_default(predict)


def _describe_input(
    function: str, parameter: inspect.Parameter, hints: dict[str, Any], order: int, written: set[str] | None
) -> tuple[InputField, Any]:
    where = f"{function} argument {parameter.name!r}"
    if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise SignatureError(f"{where} collects extra arguments (*args/**kwargs); declare each input by name")
    if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise SignatureError(f"{where} is positional-only; inputs are passed by name, so remove the '/'")
    if parameter.name not in hints:
        raise SignatureError(f"{where} has no type annotation; annotate it as one of {_SUPPORTED_INPUTS}")

    read = _input_type(where, parameter.name, hints[parameter.name])
    options = _options(parameter.default, None if written is None else parameter.name in written)
    if read.choices is not None and options.choices is not None:
        raise SignatureError(f"{where} has both a Literal type and choices=; keep one of them")
    choices = read.choices if read.choices is not None else options.choices
    _check_options_fit(where, read.kind, options, choices)

    has_default = not options.required or read.nullable
    default = None if options.required else options.default
    field = InputField(
        name=parameter.name,
        kind=read.kind,
        order=order,
        is_list=read.is_list,
        # `x: str = Input(default=None)` is how Cog predictors wrote Optional before it existed.
        nullable=read.nullable or (has_default and default is None),
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
        alternatives=list(read.alternatives) or None,
    )
    if default is None:
        return field, read.cls
    return msgspec.structs.replace(field, default=_checked_default(where, field, default)), read.cls


def _input_type(where: str, name: str, annotation: Any) -> _InputType:
    written = annotation  # errors name the whole annotation, not the part that failed
    annotation = strip_annotated(annotation)
    nullable = False
    if typing.get_origin(annotation) in UNIONS:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        if len(members) > 1:
            return _InputType("union", nullable=nullable, alternatives=_alternatives(where, name, written, members))
        annotation = strip_annotated(members[0])
    is_list, annotation = _list_item(where, written, annotation)
    if typing.get_origin(annotation) is typing.Literal:
        literal_kind, choices = _literal(where, annotation)
        return _InputType(literal_kind, is_list, nullable, choices)
    kind = input_kind(annotation)
    if kind is None:
        raise _unsupported(where, written, "")
    return _InputType(kind, is_list, nullable, cls=annotation)


def _list_item(where: str, written: Any, annotation: Any) -> tuple[bool, Any]:
    """(is a list, the item annotation) for `list[T]`/`List[T]`, or (False, the annotation)."""
    if typing.get_origin(annotation) is not list and annotation is not list:
        return False, annotation
    item_types = typing.get_args(annotation)
    if not item_types:
        raise _unsupported(where, written, "a list without an item type")
    return True, strip_annotated(item_types[0])


def _alternatives(where: str, name: str, written: Any, members: list[Any]) -> tuple[InputField, ...]:
    """The members of a Union input, each as a field of its own, tried in the order written."""
    alternatives = []
    for member in members:
        is_list, item = _list_item(where, written, strip_annotated(member))
        kind = input_kind(item)
        if kind not in _UNION_MEMBER_KINDS:
            raise _unsupported(where, written, "a Union may hold only str, int, float, bool and lists of them")
        alternatives.append(InputField(name=name, kind=kind, order=0, is_list=is_list))
    return tuple(alternatives)


def _literal(where: str, annotation: Any) -> tuple[InputKind, tuple[Any, ...]]:
    values = typing.get_args(annotation)
    value_types = {type(value) for value in values}
    if value_types == {str}:
        return "str", values
    if value_types == {int}:
        return "int", values
    raise SignatureError(f"{where} is {type_name(annotation)}; Literal values must be all str or all int")


def _options(default: Any, default_written: bool | None) -> InputOptions:
    options = input_options(default, default_written)
    if options is not None:
        return options
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
    if isinstance(default, (list, tuple)):
        default = [secret_value(item) for item in default]
    else:
        default = secret_value(default)
    probe = PredictorSpec(inputs=[field], output_schema={})
    try:
        return InputValidator(probe).validate({field.name: default})[field.name]
    except InputValidationError as error:
        problems = "; ".join(detail["msg"] for detail in error.errors)
        raise SignatureError(f"{where} has default {default!r}, which its own rules reject: {problems}") from None


def _unsupported(where: str, annotation: Any, what: str) -> SignatureError:
    detail = f" ({what})" if what else ""
    return SignatureError(
        f"{where} has unsupported type {type_name(annotation)}{detail}; annotate it as one of {_SUPPORTED_INPUTS}"
    )
