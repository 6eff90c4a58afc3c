"""Check a request's `input` against the predictor's inputs, in the front, on every request.

Errors are shaped as FastAPI/pydantic v1 reported them under Cog 0.9.8 (`loc`, `msg`, `type`, and
`ctx` where it helps), because clients parse them. Every field is checked and all errors returned.

Speed matters here: `InputValidator` turns each `InputField` into one closure when the predictor
loads, so a request only runs the checks its fields need.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from runtime import data_url
from runtime.ipc.messages import InputField, InputKind, PredictorSpec
from runtime.types import SECRET_MASK

Error = dict[str, Any]
# Cleans one (non-null) value or raises _Invalid.
_Check = Callable[[Any], Any]

_INPUT_LOC = ("body", "input")
_URL_SCHEMES = frozenset({"http", "https"})


class InputValidationError(Exception):
    """The input was rejected; `errors` is the FastAPI-shaped `detail` list for the 422 body."""

    def __init__(self, errors: list[Error]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


class _Invalid(Exception):
    """One value failed one check; the caller adds where."""

    def __init__(self, msg: str, type_: str, ctx: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.type = type_
        self.ctx = ctx


# ---------------------------------------------------------------- type checks, one per kind


def _check_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("str type expected", "type_error.str")
    return value


_INT_RANGE = (-(2**63), 2**64 - 1)  # what msgpack carries to the worker


def _check_int(value: Any) -> int:
    # bool is an int subclass, but true is not a number a client meant to send.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid("value is not a valid integer", "type_error.integer")
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise _Invalid(
            "integer is out of range (64 bits at most)", "value_error.integer.range", {"limit_value": list(_INT_RANGE)}
        )
    return value


def _check_float(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Invalid("value is not a valid float", "type_error.float")
    return float(value)


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("value could not be parsed to a boolean", "type_error.bool")
    return value


def _check_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("value is not a valid dict", "type_error.dict")
    return value


def _url_check(label: str) -> _Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid(f"{label} input must be an http(s) or data URL string", "type_error.str")
        # Data URLs first: they can be megabytes long, and only their header needs parsing here;
        # the payload is decoded, and its base64 checked, on a thread when the file is written.
        if data_url.is_data_url(value):
            if data_url.parse_header(value) is None:
                raise _Invalid(
                    f"{label} input is a malformed data URL; expected data:[<mediatype>][;base64],<data>",
                    "value_error.url",
                )
            return value
        try:
            url = urllib.parse.urlsplit(value)
        except ValueError as error:
            raise _Invalid(f"{label} input is not a valid URL: {error}", "value_error.url") from None
        if url.scheme not in _URL_SCHEMES:
            got = f"scheme {url.scheme!r}" if url.scheme else f"{value[:100]!r}, which has no scheme"
            raise _Invalid(f"{label} input must be an http(s) or data URL; got {got}", "value_error.url.scheme")
        if not url.hostname:
            raise _Invalid(f"{label} input URL has no host: {value[:100]!r}", "value_error.url.host")
        if url.username is not None or url.password is not None:
            # They would end up echoed in responses, webhooks and logs.
            raise _Invalid(f"{label} input URL must not carry credentials (user:password@)", "value_error.url.userinfo")
        return value

    return check


_TYPE_CHECKS: dict[InputKind, _Check] = {
    "str": _check_str,
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "path": _url_check("Path"),
    "file": _url_check("File"),
    "secret": _check_str,
    "object": _check_object,
}


# ---------------------------------------------------------------- constraints


def _number_text(limit: float) -> int | float:
    # Bounds travel as floats; show `3`, not `3.0`, for a bound the predictor wrote as 3.
    return int(limit) if float(limit).is_integer() else limit


def _limit(limit: int | float, exceeded: Callable[[Any], bool], message: str, type_: str) -> _Check:
    def check(value: Any) -> Any:
        if exceeded(value):
            raise _Invalid(message, type_, {"limit_value": limit})
        return value

    return check


def _constraints(field: InputField) -> list[_Check]:
    checks: list[_Check] = []
    if field.ge is not None:
        ge = _number_text(field.ge)
        checks.append(
            _limit(
                ge, lambda v: v < ge, f"ensure this value is greater than or equal to {ge}", "value_error.number.not_ge"
            )
        )
    if field.le is not None:
        le = _number_text(field.le)
        checks.append(
            _limit(
                le, lambda v: v > le, f"ensure this value is less than or equal to {le}", "value_error.number.not_le"
            )
        )
    if field.min_length is not None:
        shortest = field.min_length
        checks.append(
            _limit(
                shortest,
                lambda v: len(v) < shortest,
                f"ensure this value has at least {shortest} characters",
                "value_error.any_str.min_length",
            )
        )
    if field.max_length is not None:
        longest = field.max_length
        checks.append(
            _limit(
                longest,
                lambda v: len(v) > longest,
                f"ensure this value has at most {longest} characters",
                "value_error.any_str.max_length",
            )
        )
    if field.regex is not None:
        pattern = re.compile(field.regex)

        def check_regex(value: Any) -> Any:
            # re.match, as pydantic v1 (Cog 0.9.8) did: anchored at the start only.
            if pattern.match(value) is None:
                raise _Invalid(
                    f'string does not match regex "{pattern.pattern}"',
                    "value_error.str.regex",
                    {"pattern": pattern.pattern},
                )
            return value

        checks.append(check_regex)
    if field.choices is not None:
        allowed = field.choices
        permitted = ", ".join(repr(choice) for choice in allowed)

        def check_choice(value: Any) -> Any:
            if value not in allowed:
                raise _Invalid(
                    f"value is not a valid enumeration member; permitted: {permitted}",
                    "type_error.enum",
                    {"enum_values": list(allowed)},
                )
            return value

        checks.append(check_choice)
    return checks


_KIND_NAMES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def _union_check(alternatives: list[InputField]) -> _Check:
    """The first alternative that takes the value wins, in the order the Union was written."""
    checks = [_value_check(alternative) for alternative in alternatives]
    expected = " or ".join(
        f"list of {_KIND_NAMES[a.kind]}s" if a.is_list else _KIND_NAMES[a.kind] for a in alternatives
    )

    def check(value: Any) -> Any:
        for alternative in checks:
            try:
                return alternative(value)
            except _Invalid:
                continue
        raise _Invalid(f"value is not a valid {expected}", "type_error.union")

    return check


def _value_check(field: InputField) -> _Check:
    """A check of a whole value: a list input's list as one, failing at its first bad item."""
    item_check = _item_check(field)
    if not field.is_list:
        return item_check

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Invalid("value is not a valid list", "type_error.list")
        return [item_check(item) for item in value]

    return check


def _item_check(field: InputField) -> _Check:
    if field.kind == "union":
        return _union_check(field.alternatives or [])
    type_check = _TYPE_CHECKS[field.kind]
    constraints = _constraints(field)
    if not constraints:
        return type_check

    def check(value: Any) -> Any:
        value = type_check(value)
        for constraint in constraints:
            value = constraint(value)
        return value

    return check


# ---------------------------------------------------------------- fields


def _error(loc: tuple[Any, ...], invalid: _Invalid) -> Error:
    error: Error = {"loc": list(loc), "msg": invalid.msg, "type": invalid.type}
    if invalid.ctx is not None:
        error["ctx"] = invalid.ctx
    return error


class _FieldValidator:
    __slots__ = ("name", "loc", "required", "default", "nullable", "is_list", "check")

    def __init__(self, field: InputField) -> None:
        self.name = field.name
        self.loc = (*_INPUT_LOC, field.name)
        self.required = not field.has_default
        self.default = field.default
        self.nullable = field.nullable
        self.is_list = field.is_list
        self.check = _item_check(field)

    def missing(self, errors: list[Error]) -> Any:
        if self.required:
            errors.append({"loc": list(self.loc), "msg": "field required", "type": "value_error.missing"})
            return None
        # A fresh list each time: the default must not be shared between predictions.
        return list(self.default) if isinstance(self.default, list) else self.default

    def clean(self, value: Any, errors: list[Error]) -> Any:
        if value is None:
            if not self.nullable:
                errors.append(_error(self.loc, _Invalid("none is not an allowed value", "type_error.none.not_allowed")))
            return None
        if not self.is_list:
            try:
                return self.check(value)
            except _Invalid as invalid:
                errors.append(_error(self.loc, invalid))
                return None
        if not isinstance(value, list):
            errors.append(_error(self.loc, _Invalid("value is not a valid list", "type_error.list")))
            return None
        cleaned = []
        for index, item in enumerate(value):
            try:
                cleaned.append(self.check(item))
            except _Invalid as invalid:
                errors.append(_error((*self.loc, index), invalid))
        return cleaned


class InputValidator:
    """Validates request inputs for one predictor; build it once per PredictorSpec."""

    def __init__(self, spec: PredictorSpec) -> None:
        self._fields = [_FieldValidator(field) for field in sorted(spec.inputs, key=lambda f: f.order)]

    def validate(self, raw: Any) -> dict[str, Any]:
        """Return every declared input, cleaned and with defaults applied; unknown keys are dropped.

        `raw` is the request body's `input`: missing or null means `{}`. Raises
        InputValidationError listing every problem found.
        """
        if raw is None:
            raw = {}
        elif not isinstance(raw, dict):
            raise InputValidationError(
                [{"loc": list(_INPUT_LOC), "msg": "value is not a valid dict", "type": "type_error.dict"}]
            )
        errors: list[Error] = []
        cleaned: dict[str, Any] = {}
        for field in self._fields:
            if field.name in raw:
                cleaned[field.name] = field.clean(raw[field.name], errors)
            else:
                cleaned[field.name] = field.missing(errors)
        if errors:
            raise InputValidationError(errors)
        return cleaned


ECHOED_DATA_URL_LIMIT = 1024


def _short_data_url(value: Any) -> Any:
    if not isinstance(value, str) or len(value) <= ECHOED_DATA_URL_LIMIT or not data_url.is_data_url(value):
        return value
    comma = value.find(",")
    return f"{value[: comma + 1]}...({len(value) - comma - 1} characters not echoed)"


def input_echo(spec: PredictorSpec, cleaned: dict[str, Any]) -> dict[str, Any]:
    """`cleaned` as the prediction's `input` shows it: Secret inputs masked, and data URLs over
    1 KiB cut to their header, so a 10 MiB upload is not sent back in every response and webhook."""
    echo = dict(cleaned)
    for field in spec.inputs:
        value = echo.get(field.name)
        if value is None:
            continue
        if field.kind == "secret":
            echo[field.name] = [SECRET_MASK for _ in value] if field.is_list else SECRET_MASK
        elif field.kind in ("path", "file"):
            echo[field.name] = [_short_data_url(v) for v in value] if field.is_list else _short_data_url(value)
    return echo
