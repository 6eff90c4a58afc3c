"""openapi_document(): a valid OpenAPI 3.0 document, shaped as Cog's."""

from collections.abc import Iterator
from typing import Any, Literal, Optional

import pytest
from openapi_spec_validator import validate

from runtime import BaseModel, BasePredictor, ConcatenateIterator, Input, Path, Secret
from runtime.ipc.messages import InputField, PredictorSpec
from runtime.schema.openapi import openapi_document
from runtime.schema.signature import describe_predictor


class Predictor(BasePredictor):
    def predict(  # type: ignore[misc]  # a generator annotated ConcatenateIterator, as Cog has it
        self,
        prompt: str = Input(description="What to draw", min_length=1, max_length=100, regex="[a-z ]+"),
        steps: int = Input(default=20, ge=1, le=50),
        scale: float = 7.5,
        images: list[Path] = Input(default=None),
        color: Literal["red", "blue"] = "red",
        size: int = Input(default=512, choices=[256, 512]),
        token: Secret = Input(default="hidden"),
        seed: Optional[int] = None,
        legacy: bool = Input(default=False, deprecated=True),
        no_default: str = Input(),
    ) -> ConcatenateIterator[str]:
        yield ""


class TrainingOutput(BaseModel):
    weights: Path


def train(color: Literal["green"] = "green", epochs: int = 1) -> TrainingOutput:
    raise NotImplementedError


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document(describe_predictor(Predictor().predict))


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.0.2"
    assert document["info"] == {"title": "Cog", "version": "0.1.0"}


def test_document_with_training_is_valid() -> None:
    document = openapi_document(describe_predictor(Predictor().predict), training_spec=describe_predictor(train))
    validate(document)
    components = schemas(document)
    for name in ("TrainingInput", "TrainingOutput", "TrainingRequest", "TrainingResponse"):
        assert components[name]["title"] == name
    assert components["TrainingOutput"] == {
        "type": "object",
        "title": "TrainingOutput",
        "properties": {"weights": {"title": "Weights", "type": "string", "format": "uri"}},
        "required": ["weights"],
    }
    assert components["TrainingRequest"]["properties"]["input"] == {"$ref": "#/components/schemas/TrainingInput"}
    assert components["TrainingResponse"]["properties"]["output"] == {"$ref": "#/components/schemas/TrainingOutput"}
    # Both families have a `color` enum with different values: neither may overwrite the other.
    assert components["color"]["enum"] == ["red", "blue"]
    assert components["TrainingInput"]["properties"]["color"]["allOf"] == [
        {"$ref": "#/components/schemas/TrainingInput_color"}
    ]
    assert components["TrainingInput_color"]["enum"] == ["green"]
    assert {
        "/trainings": "post",
        "/trainings/{training_id}": "put",
        "/trainings/{training_id}/cancel": "post",
    }.items() <= {path: next(iter(item)) for path, item in document["paths"].items()}.items()
    assert document["paths"]["/trainings"]["post"]["operationId"] == "train_trainings_post"
    assert document["paths"]["/trainings/{training_id}/cancel"]["post"]["summary"] == "Cancel Training"


def test_properties_follow_declaration_order_with_x_order(document: dict[str, Any]) -> None:
    properties = schemas(document)["Input"]["properties"]
    names = ["prompt", "steps", "scale", "images", "color", "size", "token", "seed", "legacy", "no_default"]
    assert list(properties) == names
    assert [properties[name]["x-order"] for name in names] == list(range(len(names)))


def test_input_properties(document: dict[str, Any]) -> None:
    input_schema = schemas(document)["Input"]
    properties = input_schema["properties"]
    assert input_schema["title"] == "Input" and input_schema["type"] == "object"
    assert input_schema["required"] == ["prompt", "no_default"]
    assert properties["prompt"] == {
        "title": "Prompt",
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": "[a-z ]+",
        "description": "What to draw",
        "x-order": 0,
    }
    assert properties["steps"] == {
        "title": "Steps",
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "default": 20,
        "x-order": 1,
    }
    assert properties["scale"] == {"title": "Scale", "type": "number", "default": 7.5, "x-order": 2}
    assert properties["images"] == {
        "title": "Images",
        "type": "array",
        "items": {"type": "string", "format": "uri"},
        "default": None,
        "nullable": True,
        "x-order": 3,
    }
    # A default of None is written, as Cog 0.16+ does (pydantic 1, under Cog 0.9, left it out).
    assert properties["seed"] == {"title": "Seed", "type": "integer", "default": None, "nullable": True, "x-order": 7}
    assert properties["legacy"] == {
        "title": "Legacy",
        "type": "boolean",
        "default": False,
        "deprecated": True,
        "x-order": 8,
    }
    assert properties["no_default"]["title"] == "No Default"


def test_secret_property_is_write_only_and_masked(document: dict[str, Any]) -> None:
    assert schemas(document)["Input"]["properties"]["token"] == {
        "title": "Token",
        "type": "string",
        "format": "password",
        "writeOnly": True,
        "x-cog-secret": True,
        "default": "**********",
        "x-order": 6,
    }


def test_choices_become_enum_components(document: dict[str, Any]) -> None:
    components = schemas(document)
    properties = components["Input"]["properties"]
    assert properties["color"] == {"allOf": [{"$ref": "#/components/schemas/color"}], "default": "red", "x-order": 4}
    assert components["color"] == {
        "title": "color",
        "enum": ["red", "blue"],
        "type": "string",
        "description": "An enumeration.",
    }
    assert components["size"] == {
        "title": "size",
        "enum": [256, 512],
        "type": "integer",
        "description": "An enumeration.",
    }


def test_list_of_choices_refers_to_the_enum_from_items() -> None:
    spec = PredictorSpec(
        inputs=[InputField(name="tags", kind="str", order=0, is_list=True, choices=["a", "b"])], output_schema={}
    )
    document = openapi_document(spec)
    validate(document)
    assert schemas(document)["Input"]["properties"]["tags"] == {
        "title": "Tags",
        "type": "array",
        "items": {"allOf": [{"$ref": "#/components/schemas/tags"}]},
        "x-order": 0,
    }


def test_output_and_fixed_components(document: dict[str, Any]) -> None:
    components = schemas(document)
    assert components["Output"] == {
        "type": "array",
        "items": {"type": "string"},
        "x-cog-array-type": "iterator",
        "x-cog-array-display": "concatenate",
        "title": "Output",
    }
    assert components["Status"]["enum"] == ["starting", "processing", "succeeded", "canceled", "failed"]
    assert components["WebhookEvent"]["enum"] == ["start", "output", "logs", "completed"]
    request = components["PredictionRequest"]["properties"]
    assert request["input"] == {"$ref": "#/components/schemas/Input"}
    assert request["webhook"]["maxLength"] == 65536 and request["webhook"]["format"] == "uri"
    assert request["webhook_events_filter"]["default"] == ["start", "output", "logs", "completed"]
    assert request["created_at"]["format"] == "date-time"
    response = components["PredictionResponse"]["properties"]
    assert list(response) == [
        "input",
        "output",
        "id",
        "version",
        "created_at",
        "started_at",
        "completed_at",
        "logs",
        "error",
        "status",
        "metrics",
    ]
    assert response["output"] == {"$ref": "#/components/schemas/Output"}
    assert response["status"] == {"$ref": "#/components/schemas/Status"}
    assert components["ValidationError"]["required"] == ["loc", "msg", "type"]
    assert components["HTTPValidationError"]["properties"]["detail"]["items"] == {
        "$ref": "#/components/schemas/ValidationError"
    }


def test_paths(document: dict[str, Any]) -> None:
    operations = {
        (path, method): (operation["summary"], operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert operations == {
        ("/", "get"): ("Root", "root__get"),
        ("/health-check", "get"): ("Healthcheck", "healthcheck_health_check_get"),
        ("/predictions", "post"): ("Predict", "predict_predictions_post"),
        ("/predictions/{prediction_id}", "put"): (
            "Predict Idempotent",
            "predict_idempotent_predictions__prediction_id__put",
        ),
        ("/predictions/{prediction_id}/cancel", "post"): (
            "Cancel",
            "cancel_predictions__prediction_id__cancel_post",
        ),
        ("/shutdown", "post"): ("Start Shutdown", "start_shutdown_shutdown_post"),
    }
    predict = document["paths"]["/predictions"]["post"]
    assert predict["parameters"] == [
        {"name": "prefer", "in": "header", "required": False, "schema": {"title": "Prefer", "type": "string"}}
    ]
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictionRequest"
    }
    assert predict["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictionResponse"
    }
    assert predict["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
    put_parameters = document["paths"]["/predictions/{prediction_id}"]["put"]["parameters"]
    assert put_parameters[0]["in"] == "path" and put_parameters[0]["required"] is True


def test_any_output_and_no_inputs() -> None:
    def predict():  # type: ignore[no-untyped-def]
        return 1

    document = openapi_document(describe_predictor(predict))
    validate(document)
    assert schemas(document)["Output"] == {"title": "Output"}
    assert "required" not in schemas(document)["Input"]


def test_output_schema_of_the_spec_is_not_shared() -> None:
    def predict() -> Iterator[str]:
        yield ""

    spec = describe_predictor(predict)
    document = openapi_document(spec)
    schemas(document)["Output"]["items"]["type"] = "changed"
    assert spec.output_schema["items"] == {"type": "string"}
