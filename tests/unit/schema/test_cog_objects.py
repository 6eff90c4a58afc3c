"""Reading what Cog releases put in a signature, without the `cog` package: pydantic 2's
FieldInfo (Cog 0.11-0.16 on pydantic 2), the written defaults Cog 0.17+ needs read from the
source, Union inputs, and the return types both references accept. Cog 0.9.8's and 0.23's own
objects are read by the compatibility suite, in venvs that have them (tests/e2e/compat)."""

from typing import List, Optional, TypedDict, Union

import numpy
import pydantic
import pytest

from runtime import Input, Path
from runtime.schema.cog_objects import input_kind, input_options
from runtime.schema.signature import SignatureError, describe_predictor
from runtime.schema.validation import InputValidationError, InputValidator
from runtime.schema.written_defaults import inputs_with_written_default


def test_pydantic_2_field_info_is_read_as_cog_0_16_made_it() -> None:
    # What Cog 0.16's Input() returned on pydantic 2 (python/cog/types.py there).
    required = pydantic.Field(..., description="prompt", min_length=1, max_length=9, pattern="^[a-z]+$")
    options = input_options(required, None)
    assert options is not None and options.required
    assert (options.description, options.min_length, options.max_length, options.regex) == ("prompt", 1, 9, "^[a-z]+$")
    chosen = input_options(pydantic.Field(2, ge=1, le=5, json_schema_extra={"enum": [1, 2]}, deprecated=True), None)
    assert chosen is not None and not chosen.required
    assert (chosen.default, chosen.ge, chosen.le, chosen.choices, chosen.deprecated) == (2, 1, 5, (1, 2), True)
    assert input_options(pydantic.Field(None), None) == Input(default=None)


def test_plain_defaults_are_not_options() -> None:
    assert input_options(3, None) is None and input_options(None, True) is None


def test_written_defaults_are_read_from_the_source() -> None:
    def predict(
        self,
        prompt: str = Input(description="no default"),
        seed: int = Input(default=None),
        first: int = Input(None, description="positional"),
        plain: int = 4,
        *,
        keyword: str = Input(default="k"),
    ) -> str:
        return ""

    assert inputs_with_written_default(predict) == {"seed", "first", "keyword"}
    assert inputs_with_written_default(len) is None  # no Python source to read


def test_input_kinds_by_what_the_class_is() -> None:
    import io
    import pathlib

    kinds = [input_kind(t) for t in (pathlib.Path, Path, io.IOBase, str, dict, set)]
    assert kinds == ["path", "path", "file", "str", "object", None]


def test_union_inputs_take_any_member_in_order() -> None:
    def predict(words: Union[str, List[str]], mixed: str | float | None = Input(default=None)) -> str:
        return ""

    spec = describe_predictor(predict)
    words, mixed = spec.inputs
    alternatives = [(a.kind, a.is_list) for a in words.alternatives or []]
    assert (words.kind, alternatives) == ("union", [("str", False), ("str", True)])
    assert (mixed.nullable, mixed.has_default) == (True, True)
    validator = InputValidator(spec)
    assert validator.validate({"words": ["a"], "mixed": 2}) == {"words": ["a"], "mixed": 2.0}
    assert validator.validate({"words": "a", "mixed": "x"}) == {"words": "a", "mixed": "x"}
    with pytest.raises(InputValidationError) as refused:
        validator.validate({"words": [1], "mixed": True})
    assert [(e["loc"][-1], e["msg"]) for e in refused.value.errors] == [
        ("words", "value is not a valid string or list of strings"),
        ("mixed", "value is not a valid string or number"),
    ]


def test_a_union_with_a_file_is_refused_at_load() -> None:
    def predict(source: Union[Path, str]) -> str:
        return ""

    with pytest.raises(SignatureError, match=r"argument 'source' .*a Union may hold only str, int, float, bool"):
        describe_predictor(predict)


class Caption(TypedDict):
    text: str
    score: float


class Partial(TypedDict, total=False):
    note: str


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (numpy.float64, {"type": "number"}),
        (numpy.float32, {"type": "number"}),
        (numpy.int64, {"type": "integer"}),
        (numpy.bool_, {"type": "boolean"}),
        (
            Caption,
            {
                "type": "object",
                "title": "Caption",
                "required": ["text", "score"],
                "properties": {
                    "text": {"title": "Text", "type": "string"},
                    "score": {"title": "Score", "type": "number"},
                },
            },
        ),
        (Partial, {"type": "object", "title": "Partial", "properties": {"note": {"title": "Note", "type": "string"}}}),
        (
            Optional[Caption],
            {
                "type": "object",
                "title": "Caption",
                "nullable": True,
                "required": ["text", "score"],
                "properties": {
                    "text": {"title": "Text", "type": "string"},
                    "score": {"title": "Score", "type": "number"},
                },
            },
        ),
    ],
)
def test_return_types_both_references_accept(annotation: object, schema: dict[str, object]) -> None:
    def predict() -> annotation:  # type: ignore[valid-type]
        return None

    assert describe_predictor(predict).output_schema == {**schema, "title": "Output"}


def test_dict_and_opaque_inputs_are_json_objects_passed_through() -> None:
    from typing import Annotated, Any

    from runtime import Opaque

    class Config:  # any class: Opaque says to take its values as plain JSON objects
        pass

    def predict(options: dict, settings: Annotated[Config, Opaque], extra: Optional[dict[str, Any]] = None) -> str:
        return ""

    spec = describe_predictor(predict)
    assert [(field.kind, field.nullable) for field in spec.inputs] == [
        ("object", False),
        ("object", False),
        ("object", True),
    ]
    assert InputValidator(spec).validate({"options": {"a": [1]}, "settings": {}}) == {
        "options": {"a": [1]},
        "settings": {},
        "extra": None,
    }
    with pytest.raises(InputValidationError, match="options: value is not a valid dict"):
        InputValidator(spec).validate({"options": [1], "settings": {}})
