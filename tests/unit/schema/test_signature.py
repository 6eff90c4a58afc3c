"""describe_predictor(): predict() signatures in, PredictorSpec out (or a SignatureError that helps)."""

# No `from __future__ import annotations`: the predictors below are local classes, and string
# annotations naming them could not be resolved.
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, List, Literal, Optional

import msgspec
import pytest

from runtime import AsyncConcatenateIterator, BaseModel, BasePredictor, ConcatenateIterator, File, Input, Path, Secret
from runtime.ipc.messages import InputField, PredictorSpec
from runtime.schema.signature import SignatureError, describe_predictor


def inputs_of(predict: Any) -> dict[str, InputField]:
    return {field.name: field for field in describe_predictor(predict).inputs}


# ---------------------------------------------------------------- input kinds


def test_every_supported_scalar_kind() -> None:
    def predict(s: str, i: int, f: float, b: bool, p: Path, pp: pathlib.Path, fi: File, sec: Secret) -> str:
        return ""

    kinds = {name: field.kind for name, field in inputs_of(predict).items()}
    assert kinds == {
        "s": "str",
        "i": "int",
        "f": "float",
        "b": "bool",
        "p": "path",
        "pp": "path",
        "fi": "file",
        "sec": "secret",
    }


def test_bound_method_skips_self_and_order_is_declaration_position() -> None:
    class Predictor(BasePredictor):
        def predict(self, zeta: str, alpha: int, middle: float) -> str:
            return ""

    for predict in (Predictor().predict, Predictor.predict):
        fields = describe_predictor(predict).inputs
        assert [(f.name, f.order) for f in fields] == [("zeta", 0), ("alpha", 1), ("middle", 2)]


def test_required_and_plain_defaults() -> None:
    def predict(a: str, b: int = 3, c: int = Input(default=4), d: str = Input(description="d")) -> str:
        return ""

    fields = inputs_of(predict)
    assert (fields["a"].has_default, fields["d"].has_default) == (False, False)
    assert (fields["b"].has_default, fields["b"].default) == (True, 3)
    assert (fields["c"].has_default, fields["c"].default) == (True, 4)
    assert fields["d"].description == "d"


def test_input_options_are_copied() -> None:
    def predict(
        n: float = Input(default=3.5, ge=3.01, le=10),
        s: str = Input(default="ab", min_length=1, max_length=5, regex="[a-z]+", deprecated=True),
    ) -> str:
        return ""

    fields = inputs_of(predict)
    assert (fields["n"].ge, fields["n"].le) == (3.01, 10)
    s = fields["s"]
    assert (s.min_length, s.max_length, s.regex, s.deprecated) == (1, 5, "[a-z]+", True)


def test_lists_of_each_spelling() -> None:
    def predict(a: list[str], b: List[Path], c: list[int] = [1, 2]) -> str:  # noqa: B006
        return ""

    fields = inputs_of(predict)
    assert [(f.kind, f.is_list) for f in fields.values()] == [("str", True), ("path", True), ("int", True)]
    assert fields["c"].default == [1, 2]


def test_optional_is_nullable_with_default_none() -> None:
    def predict(a: Optional[int], b: str | None, c: Optional[Path] = Input(description="c")) -> str:
        return ""

    for field in inputs_of(predict).values():
        assert (field.nullable, field.has_default, field.default) == (True, True, None)


def test_default_none_makes_a_plain_type_nullable() -> None:
    def predict(x: str = Input(default=None), y: int = None) -> str:  # type: ignore[assignment]
        return ""

    for field in inputs_of(predict).values():
        assert (field.nullable, field.has_default, field.default) == (True, True, None)


def test_literal_gives_choices_and_kind() -> None:
    def predict(
        color: Literal["red", "blue"],
        size: Literal[1, 2] = 2,
        many: list[Literal["x", "y"]] = ["x"],  # noqa: B006
    ) -> str:
        return ""

    fields = inputs_of(predict)
    assert (fields["color"].kind, fields["color"].choices) == ("str", ["red", "blue"])
    assert (fields["size"].kind, fields["size"].choices, fields["size"].default) == ("int", [1, 2], 2)
    assert (fields["many"].kind, fields["many"].is_list, fields["many"].choices) == ("str", True, ["x", "y"])


def test_choices_option_with_type() -> None:
    def predict(mode: str = Input(default="a", choices=["a", "b"]), n: int = Input(choices=(1, 2))) -> str:
        return ""

    fields = inputs_of(predict)
    assert fields["mode"].choices == ["a", "b"]
    assert fields["n"].choices == [1, 2]


def test_float_default_given_as_int_is_stored_as_float() -> None:
    def predict(t: float = 1) -> str:
        return ""

    default = inputs_of(predict)["t"].default
    assert default == 1.0 and isinstance(default, float)


def test_secret_default_is_unwrapped() -> None:
    def predict(token: Secret = Input(default=Secret("s3cr3t"))) -> str:
        return ""

    assert inputs_of(predict)["token"].default == "s3cr3t"


def test_spec_survives_the_wire() -> None:
    def predict(n: int = Input(default=5, ge=1, le=10), color: Literal["r", "g"] = "r") -> Iterator[str]:
        yield ""

    spec = describe_predictor(predict)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(spec), type=PredictorSpec)
    assert decoded == spec


# ---------------------------------------------------------------- rejected signatures


def test_unannotated_argument_is_named() -> None:
    def predict(self: Any, x) -> str:  # type: ignore[no-untyped-def]
        return ""

    with pytest.raises(
        SignatureError,
        match=r"^predict\(\) argument 'x' has no type annotation; annotate it as one of str, int, float, bool, "
        r"Path, File, Secret, dict, list\[\.\.\.\] of these, Optional\[\.\.\.\], Literal\[\.\.\.\] or a Union of str, "
        r"int, float, bool and lists of them$",
    ):
        describe_predictor(predict)


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        (set, "set"),
        (Any, "Any"),
        (bytes, "bytes"),
        (complex, "complex"),
        (int | Path, r"int \| .*Path \(a Union may hold only str, int, float, bool and lists of them\)"),
        (Optional[int | dict], r"Union\[int, dict, NoneType\] \(a Union may hold only"),
        (list, r"list \(a list without an item type\)"),
        (list[set], r"list\[set\]"),
    ],
)
def test_unsupported_types_are_named(annotation: Any, shown: str) -> None:
    def predict(x: annotation) -> str:  # type: ignore[valid-type]
        return ""

    with pytest.raises(
        SignatureError, match=rf"^predict\(\) argument 'x' has unsupported type {shown}.*; annotate it as"
    ):
        describe_predictor(predict)


def test_mixed_literal_is_rejected() -> None:
    def predict(x: Literal["a", 1]) -> str:
        return ""

    with pytest.raises(
        SignatureError, match=r"argument 'x' is Literal\['a', 1\]; Literal values must be all str or all int"
    ):
        describe_predictor(predict)


def test_kwargs_are_rejected() -> None:
    def predict(**kwargs: str) -> str:
        return ""

    with pytest.raises(SignatureError, match=r"argument 'kwargs' collects extra arguments"):
        describe_predictor(predict)


def test_unresolvable_annotation() -> None:
    def predict(x: "Missing") -> str:  # type: ignore[name-defined] # noqa: F821
        return ""

    with pytest.raises(SignatureError, match=r"predict\(\) has annotations that cannot be resolved: name 'Missing'"):
        describe_predictor(predict)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Input(default=0, ge=1),
            r"argument 'x' has default 0, which its own rules reject: ensure this value is greater than or equal to 1",
        ),
        (lambda: Input(default=11, le=10), r"less than or equal to 10"),
        (lambda: Input(default="5"), r"has default '5', which its own rules reject: value is not a valid integer"),
        (lambda: Input(default=3, choices=[1, 2]), r"value is not a valid enumeration member; permitted: 1, 2"),
        (lambda: Input(default=True), r"value is not a valid integer"),
    ],
)
def test_invalid_int_defaults(make: Any, message: str) -> None:
    def predict(x: int = make()) -> str:
        return ""

    with pytest.raises(SignatureError, match=message):
        describe_predictor(predict)


def test_invalid_default_for_literal_and_string_options() -> None:
    def literal(x: Literal["a", "b"] = "c") -> str:  # type: ignore[assignment]
        return ""

    def too_long(x: str = Input(default="abcdef", max_length=3)) -> str:
        return ""

    def list_item(x: list[int] = [1, "2"]) -> str:  # type: ignore[list-item] # noqa: B006
        return ""

    with pytest.raises(SignatureError, match=r"permitted: 'a', 'b'"):
        describe_predictor(literal)
    with pytest.raises(SignatureError, match=r"ensure this value has at most 3 characters"):
        describe_predictor(too_long)
    with pytest.raises(SignatureError, match=r"has default \[1, '2'\].*value is not a valid integer"):
        describe_predictor(list_item)


@pytest.mark.parametrize(
    ("annotation", "options", "message"),
    [
        (str, {"ge": 1}, r"sets ge=/le=, which apply only to int and float inputs"),
        (int, {"max_length": 2}, r"sets min_length=/max_length=/regex=, which apply only to str inputs"),
        (float, {"choices": [1.5]}, r"sets choices=, which apply only to str and int inputs"),
        (str, {"choices": []}, r"sets choices= to an empty list"),
        (str, {"regex": "("}, r"has regex='\(', which does not compile"),
        (Literal["a"], {"choices": ["a"]}, r"has both a Literal type and choices="),
    ],
)
def test_options_that_do_not_fit_the_type(annotation: Any, options: dict[str, Any], message: str) -> None:
    def predict(x: annotation = Input(**options)) -> str:  # type: ignore[valid-type]
        return ""

    with pytest.raises(SignatureError, match=message):
        describe_predictor(predict)


def test_error_names_train_for_a_train_function() -> None:
    def train(x) -> str:  # type: ignore[no-untyped-def]
        return ""

    with pytest.raises(SignatureError, match=r"^train\(\) argument 'x'"):
        describe_predictor(train)


# ---------------------------------------------------------------- output schema


def output_of(annotation: Any) -> dict[str, Any]:
    def predict() -> annotation:  # type: ignore[valid-type]
        return None

    return describe_predictor(predict).output_schema


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Path, {"type": "string", "format": "uri"}),
        (pathlib.Path, {"type": "string", "format": "uri"}),
        (File, {"type": "string", "format": "uri"}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (List[Path], {"type": "array", "items": {"type": "string", "format": "uri"}}),
        (dict, {"type": "object"}),
        (dict[str, int], {"type": "object"}),
        (Any, {}),
        (Optional[str], {"type": "string", "nullable": True}),
        (int | None, {"type": "integer", "nullable": True}),
    ],
)
def test_simple_output_schemas(annotation: Any, schema: dict[str, Any]) -> None:
    assert output_of(annotation) == {**schema, "title": "Output"}


def test_missing_return_annotation_is_any() -> None:
    def predict(x: str):  # type: ignore[no-untyped-def]
        return x

    spec = describe_predictor(predict)
    assert (spec.output_schema, spec.is_iterator) == ({"title": "Output"}, False)


class ModelOutput(BaseModel):
    text: str
    file: Path
    score: Optional[float] = None


@dataclasses.dataclass
class DataclassOutput:
    text: str
    files: list[Path]
    count: int = 0


@pytest.mark.parametrize(
    ("cls", "properties", "required"),
    [
        (
            ModelOutput,
            {
                "text": {"title": "Text", "type": "string"},
                "file": {"title": "File", "type": "string", "format": "uri"},
                "score": {"title": "Score", "type": "number", "nullable": True, "default": None},
            },
            ["text", "file"],
        ),
        (
            DataclassOutput,
            {
                "text": {"title": "Text", "type": "string"},
                "files": {"title": "Files", "type": "array", "items": {"type": "string", "format": "uri"}},
                "count": {"title": "Count", "type": "integer", "default": 0},
            },
            ["text", "files"],
        ),
    ],
)
def test_object_outputs(cls: type, properties: dict[str, Any], required: list[str]) -> None:
    assert output_of(cls) == {"type": "object", "title": "Output", "properties": properties, "required": required}


def test_pydantic_output() -> None:
    import pydantic  # a test dependency (pyproject.toml): missing means a broken install, not a skip

    class PydanticOutput(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        text: str
        file: pathlib.Path
        extra: Optional[int] = None

    assert output_of(PydanticOutput) == {
        "type": "object",
        "title": "Output",
        "properties": {
            "text": {"title": "Text", "type": "string"},
            "file": {"title": "File", "type": "string", "format": "uri"},
            "extra": {"title": "Extra", "type": "integer", "nullable": True, "default": None},
        },
        "required": ["text", "file"],
    }


def test_nested_models_keep_their_own_title() -> None:
    schema = output_of(list[ModelOutput])
    assert schema["items"]["title"] == "ModelOutput"
    assert schema["title"] == "Output"


_CONCATENATE = {"x-cog-array-display": "concatenate"}


@pytest.mark.parametrize(
    ("iterator", "display"),
    [
        (Iterator, {}),
        (Generator, {}),
        (AsyncIterator, {}),
        (ConcatenateIterator, _CONCATENATE),
        (AsyncConcatenateIterator, _CONCATENATE),
    ],
)
def test_iterator_outputs(iterator: Any, display: dict[str, str]) -> None:
    spec = describe_predictor(_returning(iterator[str]))
    assert spec.is_iterator
    assert spec.output_schema == {
        "type": "array",
        "items": {"type": "string"},
        "x-cog-array-type": "iterator",
        **display,
        "title": "Output",
    }


def _returning(annotation: Any) -> Any:
    def predict() -> annotation:  # type: ignore[valid-type]
        return None

    return predict


def test_unannotated_generator_is_an_iterator() -> None:
    def predict():  # type: ignore[no-untyped-def]
        yield 1

    def annotated_as_item() -> str:  # type: ignore[misc]
        yield ""

    spec = describe_predictor(predict)
    assert spec.is_iterator
    assert spec.output_schema == {"type": "array", "items": {}, "x-cog-array-type": "iterator", "title": "Output"}
    assert describe_predictor(annotated_as_item).output_schema["items"] == {"type": "string"}


def test_unsupported_output_is_named() -> None:
    class Opaque:
        pass

    with pytest.raises(SignatureError, match=r"^predict\(\) has unsupported return type .*Opaque; annotate it as str"):
        output_of(Opaque)


# ---------------------------------------------------------------- async and concurrency


def test_is_async_for_coroutines_and_async_generators() -> None:
    class Sync(BasePredictor):
        def predict(self) -> str:
            return ""

    class Async(BasePredictor):
        async def predict(self) -> str:
            return ""

    class AsyncGen(BasePredictor):
        async def predict(self) -> AsyncIterator[str]:
            yield ""

    assert not describe_predictor(Sync().predict).is_async
    assert describe_predictor(Async().predict).is_async
    spec = describe_predictor(AsyncGen().predict, max_concurrency=4)
    assert (spec.is_async, spec.is_iterator, spec.max_concurrency) == (True, True, 4)


def test_concurrency_above_one_needs_an_async_predict() -> None:
    class Sync(BasePredictor):
        def predict(self) -> str:
            return ""

    with pytest.raises(SignatureError, match=r"concurrency.max is 2, but predict\(\) is not async"):
        describe_predictor(Sync().predict, max_concurrency=2)
