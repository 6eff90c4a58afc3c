"""The compatibility suite's predictors (predictors/<name>/, each a model directory as Cog users
write them, one SDK feature each) and what serving each must show.

A predictor that uses what an environment's `cog` does not have (Cog 0.9.8 had no
`current_scope`, Cog 0.23 has no `cog.types.Weights`) cannot be imported there under any
server: in that environment the case says which error the predictor fails to load with, and
the test checks Sprocket reports that error (SETUP_FAILED, the message in the setup logs),
as Cog's own server would.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tests.support import Server

PREDICTORS = Path(__file__).parent / "predictors"
COG_098, COG_LATEST = "cog-0.9.8", "cog-0.23.1"

# Extra steps a case runs against its READY server, after the main prediction.
Exercise = Callable[[Server], None]


def data_url(content: bytes, media_type: str = "text/plain") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


@dataclass(frozen=True)
class Case:
    """`request` is POSTed to `route`; the reply must hold `expect` (a subset, nested dicts too).
    `cannot_load[env]` is the error the predictor fails to import with in env, `fails[env]` the
    error its prediction fails with there (instead of `expect`)."""

    predictor: str
    request: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    route: str = "/predictions"
    cannot_load: dict[str, str] = field(default_factory=dict)
    fails: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    then: Exercise | None = None

    @property
    def directory(self) -> Path:
        return PREDICTORS / self.predictor


def succeeded(output: Any, **more: Any) -> dict[str, Any]:
    return {"status": "succeeded", "output": output, **more}


def refused(*requests: tuple[dict[str, Any], str, str]) -> Exercise:
    """Each (input, name, message): the input is a 422 naming that input with that message."""

    def exercise(server: Server) -> None:
        for inputs, name, message in requests:
            response = server.post("/predictions", json={"input": inputs})
            assert response.status_code == 422, response.text
            details = response.json()["detail"]
            assert any(d["loc"] == ["body", "input", name] and message in d["msg"] for d in details), details

    return exercise


def also(*requests: tuple[dict[str, Any], Any]) -> Exercise:
    """Each (input, output): a further prediction with that input succeeds with that output."""

    def exercise(server: Server) -> None:
        for inputs, output in requests:
            body = server.predict(**inputs)
            assert (body["status"], body["output"]) == ("succeeded", output), body

    return exercise


def _import_error(name: str) -> str:
    return f"ImportError: cannot import name '{name}' from 'cog'"


CASES = [
    # ---------------------------------------------------------------- inputs and Input() options
    Case("text_input", {"input": {"prompt": "you"}}, succeeded("hello you"), then=also(({}, "hello world"))),
    Case(
        "batched",
        {"input": {"text": "one"}},
        succeeded("ONE", metrics={"batch_size": 1}),
        then=also(({"text": "two"}, "TWO")),
    ),
    Case(
        "int_bounds",
        {"input": {"steps": 50}},
        succeeded(100),
        then=refused(
            ({"steps": 0}, "steps", "greater than or equal to 1"), ({"steps": "5"}, "steps", "not a valid integer")
        ),
    ),
    Case(
        "float_and_bool",
        {"input": {"temperature": 1, "upscale": True}},
        succeeded("float 1.0 True"),
        then=refused(({"temperature": 9}, "temperature", "less than or equal to 5")),
    ),
    Case(
        "string_constraints",
        {"input": {"name": "ada"}},
        succeeded("ADA"),
        then=refused(
            ({"name": "a"}, "name", "at least 2 characters"),
            ({"name": "Ada"}, "name", "does not match"),
            ({}, "name", "field required"),
        ),
    ),
    Case(
        "choices",
        {"input": {"scheduler": "K_EULER", "width": 1024}},
        succeeded("K_EULER@1024"),
        then=refused(
            ({"scheduler": "PNDM"}, "scheduler", "not a valid enumeration member"),
            ({"width": 100}, "width", "not a valid enumeration member"),
        ),
    ),
    Case(
        "literal_input",
        {"input": {"mode": "quality"}},
        succeeded("quality"),
        then=refused(({"mode": "slow"}, "mode", "permitted: 'fast', 'quality'")),
    ),
    Case(
        "optional_input",
        {},
        succeeded("none"),
        then=also(({"negative_prompt": "blur"}, "blur"), ({"negative_prompt": None}, "none")),
    ),
    # Cog 0.17+'s Input() keeps None for "no default" and for default=None alike: Sprocket reads
    # the source to tell the two apart (this input is optional, the next one required).
    Case("seed_default_none", {}, succeeded("random"), then=also(({"seed": 7}, "seed 7"))),
    Case(
        "required_input", {"input": {"prompt": "abc"}}, succeeded("cba"), then=refused(({}, "prompt", "field required"))
    ),
    Case(
        "deprecated_input",
        {"input": {"guidance": 3}},
        succeeded("hi"),
        cannot_load={COG_098: "TypeError: Input() got an unexpected keyword argument 'deprecated'"},
    ),
    Case(
        "secret_input",
        {"input": {"api_token": "s3cr3t"}},
        succeeded(
            "6 and 8 characters",
            input={"api_token": "**********", "fallback_token": "**********"},
            logs="token is **********\n",
        ),
    ),
    Case(
        "union_input",
        {"input": {"words": ["a", "b"]}},
        succeeded("a,b"),
        then=also(({"words": "one"}, "one"), ({}, "solo")),
    ),
    Case(
        "union_optional_input",
        {"input": {"value": 2}},
        succeeded("float:2.0"),
        then=also(({"value": "x"}, "str:x"), ({}, "NoneType:None")),
    ),
    Case(
        "dict_input",
        {"input": {"options": {"b": 1, "a": [2]}}},
        succeeded("a,b"),
        then=refused(({"options": "a=1"}, "options", "not a valid dict")),
    ),
    Case(
        "opaque_input",
        {"input": {"messages": {"role": "user"}}},
        succeeded({"echo": {"role": "user"}}),
        cannot_load={COG_098: _import_error("Opaque")},
    ),
    # ---------------------------------------------------------------- files in and out
    Case(
        "path_input",
        {"input": {"image": data_url(b"pixels", "image/png")}},
        succeeded(".png pixels"),
        then=refused(({"image": "/etc/passwd"}, "image", "http(s) or data URL")),
    ),
    Case("file_input", {"input": {"document": data_url(b"text")}}, succeeded("TEXT")),
    Case("list_of_paths_input", {"input": {"images": [data_url(b"a"), data_url(b"b")]}}, succeeded("a+b")),
    Case("url_path_type", {"input": {"image": data_url(b"x")}}, succeeded("local")),
    Case("path_output", {"input": {"text": "out"}}, succeeded(data_url(b"out"))),
    Case("list_of_paths_output", {}, succeeded([data_url(b"0"), data_url(b"1")])),
    Case("file_output", {}, succeeded("data:application/octet-stream;base64,Ynl0ZXM=")),
    # ---------------------------------------------------------------- iterators and async
    Case("iterator_output", {"input": {"count": 4}}, succeeded([0, 1, 4, 9])),
    Case("concatenate_iterator", {}, succeeded(["the ", "quick ", "fox "])),
    Case("iterator_of_paths", {}, succeeded([data_url(b"step 0"), data_url(b"step 1")])),
    Case("async_predict", {}, succeeded("hello async")),
    Case("async_iterator", {}, succeeded(["chunk0", "chunk1", "chunk2"])),
    Case(
        "async_concatenate_iterator",
        {},
        succeeded(["a", "b"]),
        cannot_load={COG_098: _import_error("AsyncConcatenateIterator")},
    ),
    # ---------------------------------------------------------------- structured outputs
    Case("basemodel_output", {}, succeeded({"caption": "a cat", "image": data_url(b"meow"), "score": 0.9})),
    # Cog 0.23's BaseModel is a plain dataclass: the left-out field is a TypeError there.
    Case(
        "basemodel_optional_field",
        {},
        succeeded({"text": "done", "warning": None}),
        fails={COG_LATEST: "missing 1 required positional argument: 'warning'"},
    ),
    # Cog 0.23's Path has no pydantic support: pydantic refuses the model as the module loads.
    Case(
        "pydantic_output_with_path",
        {},
        succeeded({"mask": data_url(b"mask"), "label": "object"}),
        cannot_load={COG_LATEST: "Unable to generate pydantic-core schema for <class 'cog.types.Path'>"},
    ),
    Case("typeddict_output", {}, succeeded({"label": "dog", "confidence": 0.8})),
    Case("numpy_output", {"input": {"x": 3}}, succeeded(9.0)),
    # ---------------------------------------------------------------- setup, training, failures
    Case(
        "setup_weights",
        {},
        succeeded("tensor bytes"),
        env={"COG_WEIGHTS": str(PREDICTORS / "setup_weights" / "weights.txt")},
    ),
    Case(
        "training",
        {"input": {"steps": 2}},
        succeeded({"weights": data_url(b"ww", "application/octet-stream")}),
        route="/trainings",
    ),
    Case("raises", {}, {"status": "failed", "error": "the model refused"}, then=also(({"fail": False}, "fine"))),
    Case("logs", {}, succeeded("done", logs="step 1\nwarning on stderr\nfrom logging\n")),
    # ---------------------------------------------------------------- newer SDK names
    Case(
        "context", {"context": {"user": "ada"}}, succeeded("ada"), cannot_load={COG_098: _import_error("current_scope")}
    ),
    Case(
        "record_metric",
        {"input": {"tokens": 7}},
        succeeded("ok", metrics={"output_tokens": 7}),
        cannot_load={COG_098: _import_error("current_scope")},
    ),
    Case(
        "emit_metric", {}, succeeded("ok", metrics={"images": 2}), cannot_load={COG_098: _import_error("emit_metric")}
    ),
    Case(
        "base_runner",
        {"input": {"prompt": "go"}},
        succeeded("GO", metrics={"prompt_length": 2}),
        cannot_load={COG_098: _import_error("BaseRunner")},
    ),
    Case(
        "experimental_warning",
        {},
        succeeded("quiet"),
        cannot_load={COG_098: _import_error("ExperimentalFeatureWarning")},
    ),
    # Weights lived in cog.types from Cog 0.13 to 0.16; the stand-in keeps it.
    Case(
        "weights_type",
        {},
        succeeded(False),
        cannot_load={
            COG_098: "ImportError: cannot import name 'Weights' from 'cog.types'",
            COG_LATEST: "ImportError: cannot import name 'Weights' from 'cog.types'",
        },
    ),
]
