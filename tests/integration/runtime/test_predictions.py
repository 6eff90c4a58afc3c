"""The prediction API against a real server: response shape, outputs, errors, validation."""

from __future__ import annotations

import pytest

from runtime.version import COG_API_VERSION, VERSION
from tests.conftest import module_server
from tests.support import Server

hello = module_server("hello")
falsy = module_server("falsy")
raises = module_server("raises")


def test_health_check_reports_ready_with_setup_result(hello: Server) -> None:
    response = hello.get("/health-check")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "READY"
    assert body["setup"]["status"] == "succeeded"
    assert body["setup"]["logs"] == ""
    assert body["setup"]["started_at"] <= body["setup"]["completed_at"]


def test_index_advertises_only_urls_that_answer(hello: Server) -> None:
    index = hello.get("/").json()
    # No `cog` package in this venv: the Cog API version Sprocket implements, and its own apart.
    assert (index["cog_version"], index["sprocket_version"]) == (COG_API_VERSION, VERSION)
    assert index["openapi_url"] == "/openapi.json" and hello.get("/openapi.json").status_code == 200
    assert hello.get(index["healthcheck_url"]).status_code == 200
    for key in ("predictions_url", "predictions_idempotent_url", "predictions_cancel_url", "shutdown_url"):
        url = index[key].replace("{prediction_id}", "p1")
        assert hello.session.options(hello.url + url).status_code != 404, key


def test_prediction_returns_the_full_object(hello: Server) -> None:
    body = hello.predict(text="world")
    assert body["status"] == "succeeded"
    assert body["output"] == "hello world"
    assert body["input"] == {"text": "world"}
    assert body["error"] is None
    assert body["logs"] == ""
    assert len(body["id"]) >= 16
    assert body["started_at"] <= body["completed_at"]
    assert body["metrics"]["predict_time"] >= 0
    assert body["version"] is None
    assert body["created_at"] == body["started_at"]  # accepted then: the client sent no created_at


def test_defaults_apply_when_input_is_empty_or_absent(hello: Server) -> None:
    for payload in ({}, {"input": None}, {"input": {}}):
        assert hello.post("/predictions", json=payload).json()["output"] == "hello world"
    assert hello.post("/predictions", data=b"").json()["output"] == "hello world"


def test_client_id_and_created_at_are_echoed(hello: Server) -> None:
    body = hello.post(
        "/predictions", json={"id": "abc123", "created_at": "2024-01-01T00:00:00Z", "input": {"text": "x"}}
    ).json()
    assert body["id"] == "abc123"
    assert body["created_at"] == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "kind, expected", [("zero", 0), ("false", False), ("empty", ""), ("list", []), ("dict", {}), ("none", None)]
)
def test_falsy_outputs_come_back_as_themselves(falsy: Server, kind: str, expected: object) -> None:
    body = falsy.predict(kind=kind)
    assert body["status"] == "succeeded"
    assert body["output"] == expected and type(body["output"]) is type(expected)


def test_an_output_too_big_to_send_fails_the_prediction_not_the_worker(falsy: Server) -> None:
    body = falsy.predict(kind="huge")
    assert body["status"] == "failed"
    assert body["error"].startswith("predict() returned an output that cannot be sent")
    assert falsy.status() == "READY" and falsy.predict(kind="zero")["output"] == 0


def test_exception_in_predict_fails_the_prediction_with_traceback(raises: Server) -> None:
    body = raises.predict()
    assert body["status"] == "failed"
    assert body["error"] == "bad things happened"
    assert body["logs"].startswith("about to fail\n")
    assert "Traceback (most recent call last)" in body["logs"]
    assert "ValueError: bad things happened" in body["logs"]
    assert body["metrics"]["predict_time"] >= 0  # how long it ran before raising, as coglet reports
    assert raises.status() == "READY"


def test_wrong_input_type_is_422_in_cogs_shape(hello: Server) -> None:
    response = hello.post("/predictions", json={"input": {"text": 5}})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "input", "text"]
    assert error["msg"] and error["type"]


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 422, "Expected `object`"),
        (b'"text"', 422, "Expected `object`"),
        (b'{"input": [1]}', 422, "Expected `object | null`"),
        (b'{"id": 5}', 422, "Expected `str | null`"),
        (b'{"webhook_events_filter": ["sometimes"]}', 422, "Invalid enum value"),
        (b'{"webhook": "ftp://example.com/hook"}', 422, "must be an http or https URL"),
        (b'{"webhook": "http://"}', 422, "URL has no host"),
        (b'{"output_file_prefix": "file:///tmp/"}', 422, "must be an http or https URL"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(hello: Server, body: bytes, status: int, fragment: str) -> None:
    response = hello.post("/predictions", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.text


def test_unknown_routes_and_methods_are_json_4xx(hello: Server) -> None:
    missing = hello.get("/nope")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = hello.get("/predictions")
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": "Method Not Allowed"}
    assert "POST" in wrong.headers["Allow"]


def test_cancel_of_unknown_prediction_is_404(hello: Server) -> None:
    response = hello.post("/predictions/nothing-like-this/cancel")
    assert (response.status_code, response.json()) == (404, {})


def test_openapi_describes_the_predictor(hello: Server) -> None:
    document = hello.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"Input", "Output", "PredictionRequest", "PredictionResponse", "Status", "WebhookEvent"} <= set(schemas)
    text = schemas["Input"]["properties"]["text"]
    assert text["type"] == "string" and text["x-order"] == 0 and text["default"] == "world"
    assert schemas["Output"]["type"] == "string"
    assert "/predictions" in document["paths"]
