"""The names the stand-in adds for predictors written against today's Cog: scopes and metrics,
BaseRunner, URL files, Weights, the warnings class, the decorators, and pydantic fields."""

import io
import pathlib
import typing
import warnings
from typing import Optional

import pydantic
import pytest

from runtime import (
    BaseModel,
    BasePredictor,
    BaseRunner,
    ExperimentalFeatureWarning,
    Path,
    Secret,
    URLPath,
    concurrent,
    current_scope,
    emit_metric,
    streaming,
)
from runtime.schema.signature import describe_predictor
from runtime.scope import Scope, entered_scope
from runtime.types import File, Weights
from runtime.url_files import get_filename
from runtime.worker.loader import _prediction_method


def test_scope_outside_a_prediction_keeps_nothing() -> None:
    scope = current_scope()
    scope.record_metric("ignored", 1)
    assert current_scope().metrics.values == {} and current_scope().context == {}


def test_metrics_and_context_of_the_entered_scope() -> None:
    scope = Scope({"user": "u1"})
    with entered_scope(scope):
        assert current_scope() is scope and current_scope().context == {"user": "u1"}
        current_scope().record_metric("tokens", 3)
        current_scope().record_metric("tokens", 2, mode="incr")
        current_scope().record_metric("timing.inference", 0.5)
        current_scope().metrics["steps"] = ["a"]
        current_scope().metrics.record("steps", "b", mode="append")
        emit_metric("old_style", 1.5)
        current_scope().record_metric("gone", 1)
        del current_scope().metrics["gone"]
    assert scope.metrics.values == {"tokens": 5, "timing": {"inference": 0.5}, "steps": ["a", "b"], "old_style": 1.5}
    assert current_scope() is not scope


@pytest.mark.parametrize(
    ("key", "value", "mode", "message"),
    [
        ("predict_time", 1, None, r"'predict_time' and 'cog\.\*' are the server's"),
        ("cog.internal", 1, None, r"not allowed"),
        ("x", object(), None, r"metric 'x' is a object; record a bool, int, float, str, list or dict"),
        ("x", 1, "sum", r"metric mode 'sum' is not one of replace, incr, append"),
    ],
)
def test_bad_metrics_are_refused_saying_why(key: str, value: object, mode: str | None, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        Scope().record_metric(key, value, mode)


def test_base_runner_records_metrics_through_the_scope() -> None:
    class Runner(BaseRunner):
        def run(self, text: str) -> str:
            self.record_metric("length", len(text))
            return self.scope.context.get("greeting", "") + text

    scope = Scope({"greeting": "hi "})
    with entered_scope(scope):
        assert Runner().run("there") == "hi there"
    assert scope.metrics.values == {"length": 5}
    assert _prediction_method(Runner) == "run"


def test_the_method_a_predictor_class_defines_is_the_one_served() -> None:
    class Predictor(BasePredictor):
        def predict(self) -> str:
            return ""

    class Inherits(Predictor):
        pass

    class Legacy(BaseRunner):
        def predict(self) -> str:
            return ""

    assert [_prediction_method(cls) for cls in (Predictor, Inherits, Legacy)] == ["predict"] * 3


def test_weights_and_the_warning_class() -> None:
    assert typing.get_args(Weights) == (File, Path, str)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)
        warnings.warn("experimental", ExperimentalFeatureWarning, stacklevel=1)


def test_url_path_shows_its_source_and_converts_to_a_local_file() -> None:
    url_path = URLPath(source="https://example.test/cat.png", filename="cat.png", fileobj=io.BytesIO(b"png"))
    assert str(url_path) == "https://example.test/cat.png" and isinstance(url_path, pathlib.Path)
    local = url_path.convert()
    try:
        assert local.read_bytes() == b"png" and local.name.endswith("cat.png")
    finally:
        url_path.unlink()
    assert not local.exists()


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.test/a/b%20c.txt?x=1", "b c.txt"),
        ("data:image/png;base64,iVBO", "file.png"),
        ("data:application/x-unknown-thing;base64,AA", "file"),
        ("https://example.test/" + "n" * 300 + ".jpg", "n" * 195 + "~.jpg"),
    ],
)
def test_get_filename(url: str, name: str) -> None:
    assert get_filename(url) == name


def test_decorators_keep_the_function() -> None:
    async def many() -> str:
        return ""

    def one() -> str:
        return ""

    assert streaming(one) is one and streaming()(one) is one
    assert concurrent(max=4)(many).__cog_concurrent_max__ == 4  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"concurrent\(max=2\) needs an async function"):
        concurrent(max=2)(one)
    with pytest.raises(ValueError, match="at least 1"):
        concurrent(max=0)


def test_base_model_optional_field_without_default_is_none() -> None:
    class Output(BaseModel):
        text: str
        caption: Optional[str]
        score: "float | None"

    assert (Output(text="t").caption, Output(text="t").score) == (None, None)
    schema = describe_predictor(_returning(Output)).output_schema
    assert schema["required"] == ["text"]
    assert schema["properties"]["caption"] == {"title": "Caption", "type": "string", "nullable": True, "default": None}


def test_pydantic_2_models_hold_cog_types() -> None:
    class Output(pydantic.BaseModel):
        image: Path
        count: int = 2

    class Settings(pydantic.BaseModel):
        token: Secret

    assert isinstance(Output(image="/tmp/x.png").image, Path)  # type: ignore[arg-type]
    assert Settings(token="s3cr3t").token.get_secret_value() == "s3cr3t"  # type: ignore[arg-type]
    assert Output.model_json_schema()["properties"]["image"] == {"type": "string", "format": "uri", "title": "Image"}
    schema = describe_predictor(_returning(Output)).output_schema
    assert schema["properties"]["image"] == {"title": "Image", "type": "string", "format": "uri"}
    assert schema["properties"]["count"] == {"title": "Count", "type": "integer", "default": 2}


def _returning(annotation: typing.Any) -> typing.Any:
    def predict() -> annotation:  # type: ignore[valid-type]
        return None

    return predict
