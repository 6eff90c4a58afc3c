"""InputValidator: request inputs in, cleaned inputs or FastAPI-shaped 422 details out."""

from typing import Any

import pytest

from runtime.ipc.messages import InputField, PredictorSpec
from runtime.schema.validation import InputValidationError, InputValidator, input_echo


def spec_of(*fields: InputField) -> PredictorSpec:
    return PredictorSpec(inputs=list(fields), output_schema={})


def field(name: str, kind: Any, order: int = 0, **options: Any) -> InputField:
    return InputField(name=name, kind=kind, order=order, **options)


def errors_of(validator: InputValidator, raw: Any) -> list[dict[str, Any]]:
    with pytest.raises(InputValidationError) as caught:
        validator.validate(raw)
    return caught.value.errors


def loc(*path: Any) -> list[Any]:
    return ["body", "input", *path]


# ---------------------------------------------------------------- the input object


@pytest.mark.parametrize("raw", [None, {}])
def test_missing_or_null_input_applies_defaults(raw: Any) -> None:
    validator = InputValidator(spec_of(field("n", "int", has_default=True, default=3)))
    assert validator.validate(raw) == {"n": 3}


@pytest.mark.parametrize("raw", [[], "x", 5])
def test_input_that_is_not_an_object(raw: Any) -> None:
    validator = InputValidator(spec_of(field("n", "int")))
    assert errors_of(validator, raw) == [
        {"loc": ["body", "input"], "msg": "value is not a valid dict", "type": "type_error.dict"}
    ]


def test_missing_required_field() -> None:
    validator = InputValidator(spec_of(field("text", "str")))
    assert errors_of(validator, {}) == [{"loc": loc("text"), "msg": "field required", "type": "value_error.missing"}]


def test_unknown_keys_are_dropped_and_order_is_declaration_order() -> None:
    validator = InputValidator(
        spec_of(field("b", "str", order=1), field("a", "str", order=0, has_default=True, default="x"))
    )
    cleaned = validator.validate({"b": "y", "zzz": 1})
    assert cleaned == {"a": "x", "b": "y"}
    assert list(cleaned) == ["a", "b"]


def test_every_field_error_is_reported() -> None:
    validator = InputValidator(spec_of(field("a", "int", 0), field("b", "str", 1), field("c", "bool", 2)))
    errors = errors_of(validator, {"a": "1", "c": "yes"})
    assert [error["loc"] for error in errors] == [loc("a"), loc("b"), loc("c")]
    assert str(InputValidationError(errors)).startswith("body.input.a: value is not a valid integer; ")


def test_default_lists_are_not_shared_between_requests() -> None:
    validator = InputValidator(spec_of(field("xs", "int", is_list=True, has_default=True, default=[1])))
    first = validator.validate({})
    first["xs"].append(2)
    assert validator.validate({}) == {"xs": [1]}


# ---------------------------------------------------------------- scalar types


@pytest.mark.parametrize(
    ("kind", "value", "cleaned"),
    [
        ("str", "", ""),
        ("int", 0, 0),
        ("int", -4, -4),
        ("float", 1.5, 1.5),
        ("bool", False, False),
        ("secret", "s3cr3t", "s3cr3t"),
        ("object", {"k": [1]}, {"k": [1]}),
    ],
)
def test_accepted_values(kind: Any, value: Any, cleaned: Any) -> None:
    assert InputValidator(spec_of(field("x", kind))).validate({"x": value}) == {"x": cleaned}


def test_int_is_coerced_to_float() -> None:
    cleaned = InputValidator(spec_of(field("x", "float"))).validate({"x": 4})["x"]
    assert cleaned == 4.0 and isinstance(cleaned, float)


@pytest.mark.parametrize(
    ("kind", "value", "msg", "type_"),
    [
        ("str", 5, "str type expected", "type_error.str"),
        ("secret", {}, "str type expected", "type_error.str"),
        ("int", "4", "value is not a valid integer", "type_error.integer"),
        ("int", 4.0, "value is not a valid integer", "type_error.integer"),
        ("int", True, "value is not a valid integer", "type_error.integer"),
        ("float", "1.5", "value is not a valid float", "type_error.float"),
        ("float", False, "value is not a valid float", "type_error.float"),
        ("bool", "yes", "value could not be parsed to a boolean", "type_error.bool"),
        ("bool", 1, "value could not be parsed to a boolean", "type_error.bool"),
    ],
)
def test_rejected_values(kind: Any, value: Any, msg: str, type_: str) -> None:
    validator = InputValidator(spec_of(field("x", kind)))
    assert errors_of(validator, {"x": value}) == [{"loc": loc("x"), "msg": msg, "type": type_}]


def test_null_for_a_non_nullable_field() -> None:
    validator = InputValidator(spec_of(field("x", "str", has_default=True, default="d")))
    assert errors_of(validator, {"x": None}) == [
        {"loc": loc("x"), "msg": "none is not an allowed value", "type": "type_error.none.not_allowed"}
    ]


def test_explicit_null_for_a_nullable_field() -> None:
    validator = InputValidator(spec_of(field("x", "int", nullable=True, has_default=True, default=None)))
    assert validator.validate({"x": None}) == {"x": None}
    assert validator.validate({}) == {"x": None}
    assert validator.validate({"x": 0}) == {"x": 0}


# ---------------------------------------------------------------- constraints


def test_ge_le_with_context() -> None:
    validator = InputValidator(spec_of(field("num", "float", ge=3.01, le=10.0)))
    assert errors_of(validator, {"num": 2}) == [
        {
            "loc": loc("num"),
            "msg": "ensure this value is greater than or equal to 3.01",
            "type": "value_error.number.not_ge",
            "ctx": {"limit_value": 3.01},
        }
    ]
    assert errors_of(validator, {"num": 10.5}) == [
        {
            "loc": loc("num"),
            "msg": "ensure this value is less than or equal to 10",
            "type": "value_error.number.not_le",
            "ctx": {"limit_value": 10},
        }
    ]
    assert validator.validate({"num": 3.01}) == {"num": 3.01}
    assert validator.validate({"num": 10}) == {"num": 10.0}


def test_string_lengths() -> None:
    validator = InputValidator(spec_of(field("s", "str", min_length=2, max_length=3)))
    assert errors_of(validator, {"s": "a"}) == [
        {
            "loc": loc("s"),
            "msg": "ensure this value has at least 2 characters",
            "type": "value_error.any_str.min_length",
            "ctx": {"limit_value": 2},
        }
    ]
    [error] = errors_of(validator, {"s": "abcd"})
    assert (error["msg"], error["type"]) == (
        "ensure this value has at most 3 characters",
        "value_error.any_str.max_length",
    )
    assert validator.validate({"s": "abc"}) == {"s": "abc"}


def test_regex_is_anchored_at_the_start_only() -> None:
    validator = InputValidator(spec_of(field("s", "str", regex="[a-z]+")))
    assert validator.validate({"s": "abc123"}) == {"s": "abc123"}  # re.match, as pydantic v1
    assert errors_of(validator, {"s": "1abc"}) == [
        {
            "loc": loc("s"),
            "msg": 'string does not match regex "[a-z]+"',
            "type": "value_error.str.regex",
            "ctx": {"pattern": "[a-z]+"},
        }
    ]


def test_string_choices() -> None:
    validator = InputValidator(spec_of(field("color", "str", choices=["a", "b"])))
    assert validator.validate({"color": "b"}) == {"color": "b"}
    assert errors_of(validator, {"color": "c"}) == [
        {
            "loc": loc("color"),
            "msg": "value is not a valid enumeration member; permitted: 'a', 'b'",
            "type": "type_error.enum",
            "ctx": {"enum_values": ["a", "b"]},
        }
    ]


def test_int_choices_do_not_accept_bools_or_strings() -> None:
    validator = InputValidator(spec_of(field("n", "int", choices=[1, 2])))
    assert validator.validate({"n": 1}) == {"n": 1}
    assert errors_of(validator, {"n": True})[0]["type"] == "type_error.integer"
    assert errors_of(validator, {"n": 3})[0]["msg"] == "value is not a valid enumeration member; permitted: 1, 2"


# ---------------------------------------------------------------- lists


def test_list_items_are_checked_with_their_index() -> None:
    validator = InputValidator(spec_of(field("numbers", "int", is_list=True, ge=0)))
    assert validator.validate({"numbers": [0, 5]}) == {"numbers": [0, 5]}
    assert validator.validate({"numbers": []}) == {"numbers": []}
    errors = errors_of(validator, {"numbers": [1, "2", -1]})
    assert [(error["loc"], error["type"]) for error in errors] == [
        (loc("numbers", 1), "type_error.integer"),
        (loc("numbers", 2), "value_error.number.not_ge"),
    ]


def test_a_list_field_needs_a_list() -> None:
    validator = InputValidator(spec_of(field("numbers", "int", is_list=True)))
    assert errors_of(validator, {"numbers": 1}) == [
        {"loc": loc("numbers"), "msg": "value is not a valid list", "type": "type_error.list"}
    ]


def test_list_choices_apply_to_items() -> None:
    validator = InputValidator(spec_of(field("tags", "str", is_list=True, choices=["x", "y"])))
    assert validator.validate({"tags": ["x", "x"]}) == {"tags": ["x", "x"]}
    assert errors_of(validator, {"tags": ["x", "z"]})[0]["loc"] == loc("tags", 1)


# ---------------------------------------------------------------- file URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "http://example.com:8080/a%20b.png?x=1",
        "HTTPS://EXAMPLE.COM/A.PNG",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:;base64,aGk=",
        "data:,hello%20world",
        "data:text/plain;charset=utf-8,hi",
        "data:text/plain;charset=utf-8;base64,aGk=",
    ],
)
@pytest.mark.parametrize("kind", ["path", "file"])
def test_accepted_urls(kind: Any, url: str) -> None:
    assert InputValidator(spec_of(field("f", kind))).validate({"f": url}) == {"f": url}


@pytest.mark.parametrize(
    ("url", "msg", "type_"),
    [
        (
            "ftp://example.com/a",
            "Path input must be an http(s) or data URL; got scheme 'ftp'",
            "value_error.url.scheme",
        ),
        (
            "file:///etc/passwd",
            "Path input must be an http(s) or data URL; got scheme 'file'",
            "value_error.url.scheme",
        ),
        (
            "/tmp/a.png",
            "Path input must be an http(s) or data URL; got '/tmp/a.png', which has no scheme",
            "value_error.url.scheme",
        ),
        ("http:///a.png", "Path input URL has no host: 'http:///a.png'", "value_error.url.host"),
        ("http://[::1/a", "Path input is not a valid URL: Invalid IPv6 URL", "value_error.url"),
        (
            "data:image/png;base64",
            "Path input is a malformed data URL; expected data:[<mediatype>][;base64],<data>",
            "value_error.url",
        ),
        ("http://user:pw@example.com/a.png", "Path input URL must not carry credentials", "value_error.url.userinfo"),
        ("data:image png,abc", "Path input is a malformed data URL", "value_error.url"),
        (7, "Path input must be an http(s) or data URL string", "type_error.str"),
    ],
)
def test_rejected_urls(url: Any, msg: str, type_: str) -> None:
    [error] = errors_of(InputValidator(spec_of(field("f", "path"))), {"f": url})
    assert error["loc"] == loc("f")
    assert error["msg"].startswith(msg)
    assert error["type"] == type_


def test_file_kind_names_itself_and_list_items_have_locs() -> None:
    validator = InputValidator(spec_of(field("files", "file", is_list=True)))
    assert errors_of(validator, {"files": ["https://a.b/c", "ftp://x/y"]}) == [
        {
            "loc": loc("files", 1),
            "msg": "File input must be an http(s) or data URL; got scheme 'ftp'",
            "type": "value_error.url.scheme",
        }
    ]


# ---------------------------------------------------------------- secrets


def test_input_echo_masks_secrets_and_shortens_big_data_urls() -> None:
    spec = spec_of(
        field("token", "secret", 0),
        field("tokens", "secret", 1, is_list=True),
        field("missing", "secret", 2, nullable=True, has_default=True),
        field("text", "str", 3),
    )
    cleaned = InputValidator(spec).validate({"token": "a", "tokens": ["b", "c"], "text": "t"})
    masked = input_echo(spec, cleaned)
    assert masked == {"token": "**********", "tokens": ["**********", "**********"], "missing": None, "text": "t"}
    assert cleaned["token"] == "a" and cleaned["tokens"] == ["b", "c"]
    files = spec_of(field("image", "path", 0), field("small", "path", 1), field("many", "path", 2, is_list=True))
    big = "data:image/png;base64," + "A" * 2000
    echo = input_echo(files, {"image": big, "small": "data:,hi", "many": [big, "https://x.test/a.png"]})
    assert echo == {
        "image": "data:image/png;base64,...(2000 characters not echoed)",
        "small": "data:,hi",
        "many": ["data:image/png;base64,...(2000 characters not echoed)", "https://x.test/a.png"],
    }
