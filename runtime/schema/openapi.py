"""The OpenAPI 3.0.2 document served at /openapi.json, built in the front from a PredictorSpec.

It follows the document Cog's FastAPI server generated (component names, operationIds, `x-order`,
`x-cog-*` extensions) because clients and Replicate-style tooling read those names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from runtime.ipc.messages import InputField, InputKind, PredictorSpec
from runtime.types import SECRET_MASK


def property_title(name: str) -> str:
    """`seed_value` -> `Seed Value`, as Cog (pydantic) titles a property."""
    return name.replace("_", " ").title()


_KIND_SCHEMAS: dict[InputKind, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "path": {"type": "string", "format": "uri"},
    "file": {"type": "string", "format": "uri"},
    "secret": {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
    "object": {"type": "object"},
}
_STATUSES = ["starting", "processing", "succeeded", "canceled", "failed"]
_WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]
_JSON = "application/json"


@dataclass(frozen=True)
class _Noun:
    """The names one family of routes uses: predictions, or trainings."""

    singular: str  # "prediction"
    schema_prefix: str  # "" or "Training"
    call: str  # "predict" or "train", as in operationIds

    @property
    def plural(self) -> str:
        return f"{self.singular}s"

    @property
    def request(self) -> str:
        return f"{self.schema_prefix or 'Prediction'}Request"

    @property
    def response(self) -> str:
        return f"{self.schema_prefix or 'Prediction'}Response"

    @property
    def input(self) -> str:
        return f"{self.schema_prefix}Input"

    @property
    def output(self) -> str:
        return f"{self.schema_prefix}Output"


_PREDICTIONS = _Noun(singular="prediction", schema_prefix="", call="predict")
_TRAININGS = _Noun(singular="training", schema_prefix="Training", call="train")


def openapi_document(spec: PredictorSpec, *, training_spec: PredictorSpec | None = None) -> dict[str, Any]:
    """The whole document; `training_spec` adds the /trainings routes and their schemas.

    Cheap, but not free: build it once per loaded predictor and serve the result.
    """
    schemas: dict[str, Any] = {
        "HTTPValidationError": _HTTP_VALIDATION_ERROR,
        "ValidationError": _VALIDATION_ERROR,
        "Status": _enum("Status", _STATUSES),
        "WebhookEvent": _enum("WebhookEvent", _WEBHOOK_EVENTS),
    }
    paths: dict[str, Any] = {
        "/": _get("Root", "root__get"),
        "/health-check": _get("Healthcheck", "healthcheck_health_check_get"),
        "/shutdown": _post_empty("Start Shutdown", "start_shutdown_shutdown_post"),
    }
    families = [(_PREDICTIONS, spec)] + ([(_TRAININGS, training_spec)] if training_spec is not None else [])
    for noun, noun_spec in families:
        schemas[noun.input] = _input_schema(noun.input, noun_spec.inputs, schemas)
        schemas[noun.output] = {**copy.deepcopy(noun_spec.output_schema), "title": noun.output}
        schemas[noun.request] = _request_schema(noun)
        schemas[noun.response] = _response_schema(noun)
        paths.update(_routes(noun))
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": copy.deepcopy(schemas)},
    }


# ---------------------------------------------------------------- inputs


def _input_schema(title: str, inputs: list[InputField], schemas: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(inputs, key=lambda field: field.order)
    properties = {field.name: _property(title, field, schemas) for field in ordered}
    schema: dict[str, Any] = {"title": title, "type": "object", "properties": properties}
    required = [field.name for field in ordered if not field.has_default]
    if required:
        schema["required"] = required
    return schema


def _property(owner: str, field: InputField, schemas: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any]
    if field.choices is not None:
        # As Cog does: the allowed values become an enum component named after the input.
        name = _enum_component(owner, field, schemas)
        item = {"allOf": [{"$ref": f"#/components/schemas/{name}"}]}
    elif field.kind == "union":
        item = {"anyOf": [_value_schema(alternative) for alternative in field.alternatives or []]}
    else:
        item = {**_KIND_SCHEMAS[field.kind], **_constraints(field)}
    schema: dict[str, Any]
    if field.is_list:
        schema = {"title": property_title(field.name), "type": "array", "items": item}
    elif field.choices is not None:
        schema = item  # a title beside allOf would hide the enum's in some generators
    else:
        schema = {"title": property_title(field.name), **item}
    if field.description is not None:
        schema["description"] = field.description
    if field.has_default:
        schema["default"] = _shown_default(field)
    if field.nullable:
        schema["nullable"] = True
    if field.deprecated:
        schema["deprecated"] = True
    schema["x-order"] = field.order
    return schema


def _value_schema(field: InputField) -> dict[str, Any]:
    item = _KIND_SCHEMAS[field.kind]
    return {"type": "array", "items": dict(item)} if field.is_list else dict(item)


def _constraints(field: InputField) -> dict[str, Any]:
    keywords = {
        "minimum": field.ge,
        "maximum": field.le,
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "pattern": field.regex,
    }
    return {keyword: value for keyword, value in keywords.items() if value is not None}


def _shown_default(field: InputField) -> Any:
    if field.kind != "secret" or field.default is None:
        return field.default
    return [SECRET_MASK for _ in field.default] if field.is_list else SECRET_MASK


def _enum_component(owner: str, field: InputField, schemas: dict[str, Any]) -> str:
    component = _enum(field.name, list(field.choices or []))
    component["type"] = _KIND_SCHEMAS[field.kind]["type"]
    name = field.name
    if schemas.get(name, component) != component:  # taken by another schema (a training input, say)
        name = f"{owner}_{field.name}"
    schemas[name] = component
    return name


def _enum(title: str, values: list[Any]) -> dict[str, Any]:
    return {"title": title, "enum": values, "type": "string", "description": "An enumeration."}


# ---------------------------------------------------------------- requests and responses


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _request_schema(noun: _Noun) -> dict[str, Any]:
    return {
        "title": noun.request,
        "type": "object",
        "properties": {
            "id": {"title": "Id", "type": "string"},
            "input": _ref(noun.input),
            "created_at": {"title": "Created At", "type": "string", "format": "date-time"},
            "output_file_prefix": {"title": "Output File Prefix", "type": "string"},
            "webhook": {"title": "Webhook", "type": "string", "format": "uri", "minLength": 1, "maxLength": 65536},
            "webhook_events_filter": {
                "type": "array",
                "items": _ref("WebhookEvent"),
                "default": list(_WEBHOOK_EVENTS),
            },
        },
    }


def _response_schema(noun: _Noun) -> dict[str, Any]:
    def nullable(title: str, **schema: Any) -> dict[str, Any]:
        return {"title": title, **schema, "nullable": True}

    return {
        "title": noun.response,
        "type": "object",
        "properties": {
            "input": _ref(noun.input),
            "output": _ref(noun.output),
            "id": nullable("Id", type="string"),
            "version": nullable("Version", type="string"),
            "created_at": nullable("Created At", type="string", format="date-time"),
            "started_at": nullable("Started At", type="string", format="date-time"),
            "completed_at": nullable("Completed At", type="string", format="date-time"),
            "logs": {"title": "Logs", "type": "string", "default": ""},
            "error": nullable("Error", type="string"),
            "status": _ref("Status"),
            "metrics": nullable("Metrics", type="object"),
        },
    }


_VALIDATION_ERROR: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
    },
}
_HTTP_VALIDATION_ERROR: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "array", "items": _ref("ValidationError")}},
}


# ---------------------------------------------------------------- paths


def _json_response(schema: dict[str, Any], description: str = "Successful Response") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _get(summary: str, operation_id: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation_id, "responses": {"200": _json_response({})}}}


def _post_empty(summary: str, operation_id: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "operationId": operation_id}
    if parameters:
        operation["parameters"] = parameters
    operation["responses"] = {"200": _json_response({})}
    if parameters:
        operation["responses"]["422"] = _json_response(_ref("HTTPValidationError"), "Validation Error")
    return {"post": operation}


def _routes(noun: _Noun) -> dict[str, Any]:
    id_name = f"{noun.singular}_id"
    id_parameter = {
        "name": id_name,
        "in": "path",
        "required": True,
        "schema": {"title": f"{noun.singular.title()} ID", "type": "string"},
    }
    prefer = {"name": "prefer", "in": "header", "required": False, "schema": {"title": "Prefer", "type": "string"}}
    body = {"content": {_JSON: {"schema": _ref(noun.request)}}}
    responses = {
        "200": _json_response(_ref(noun.response)),
        "422": _json_response(_ref("HTTPValidationError"), "Validation Error"),
    }
    verb = noun.call.title()
    cancel_summary = "Cancel" if noun is _PREDICTIONS else f"Cancel {noun.singular.title()}"
    cancel_id = "cancel" if noun is _PREDICTIONS else f"cancel_{noun.singular}"
    return {
        f"/{noun.plural}": {
            "post": {
                "summary": verb,
                "operationId": f"{noun.call}_{noun.plural}_post",
                "parameters": [prefer],
                "requestBody": body,
                "responses": responses,
            }
        },
        f"/{noun.plural}/{{{id_name}}}": {
            "put": {
                "summary": f"{verb} Idempotent",
                "operationId": f"{noun.call}_idempotent_{noun.plural}__{id_name}__put",
                "parameters": [id_parameter, prefer],
                "requestBody": {**body, "required": True},
                "responses": responses,
            }
        },
        f"/{noun.plural}/{{{id_name}}}/cancel": _post_empty(
            cancel_summary, f"{cancel_id}_{noun.plural}__{id_name}__cancel_post", [id_parameter]
        ),
    }
