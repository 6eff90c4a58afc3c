"""Side by side with Cog 0.9.8: for every predictor of the suite that Cog 0.9.8 can serve, the
`Input` and `Output` schemas (and the training ones) Sprocket writes equal those Cog 0.9.8's own
server (`python -m cog.server.http`, pydantic 1) writes: titles, types, defaults, enums,
bounds, `x-order`, `required`.

Sprocket differs on purpose in the ways `DELIBERATE` lists (docs/compatibility.md says why);
each is undone on Sprocket's side before comparing, so any other difference fails. Predictors
Cog 0.9.8 refuses to serve are in `COG_098_REFUSES`, and the test checks it still refuses them.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from runtime.types import SECRET_MASK
from tests.e2e.compat.cases import CASES, COG_098, Case
from tests.e2e.compat.cog_server import CogServer
from tests.e2e.compat.conftest import serve
from tests.e2e.compat.envs import Env
from tests.support import Server

_COMPARED = ("Input", "Output", "TrainingInput", "TrainingOutput")

# Predictor -> what Cog 0.9.8's server says as it refuses it (its setup logs).
COG_098_REFUSES = {
    "literal_input": "Unsupported input type typing.Literal for parameter `mode`",
    "async_iterator": "Fields of type \"<class 'collections.abc.AsyncIterator'>\" are not supported",
    "optional_input": "Unsupported input type NoneType",
    "dict_input": "Unsupported input type dict",
    "union_optional_input": "Unsupported input type NoneType",
}


def _default_none_is_written(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """A property whose default is None says `"default": null, "nullable": true` (Cog 0.16+ writes
    them too; pydantic 1 drops a None default, though Cog 0.9.8 accepts null there)."""
    for prop in ours.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]
            prop.pop("nullable", None)


def _optional_output_field_is_nullable(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """An Optional output field says `"nullable": true` (pydantic 1 leaves Optional unsaid)."""
    for prop in ours.get("properties", {}).values():
        prop.pop("nullable", None)


def _secret_is_write_only_and_its_default_masked(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """A Secret input is `writeOnly` (as coglet writes it), and its default is shown masked:
    Cog 0.9.8 published the secret itself in the schema."""
    for name, prop in ours.get("properties", {}).items():
        if prop.get("x-cog-secret"):
            prop.pop("writeOnly", None)
            if prop.get("default") == SECRET_MASK:
                prop["default"] = theirs["properties"][name]["default"]


Undo = Callable[[dict[str, Any], dict[str, Any]], None]
DELIBERATE: dict[str, tuple[Undo, ...]] = {
    "Input": (_default_none_is_written, _secret_is_write_only_and_its_default_masked),
    "Output": (_default_none_is_written, _optional_output_field_is_nullable),
    "TrainingInput": (_default_none_is_written,),
    "TrainingOutput": (_default_none_is_written, _optional_output_field_is_nullable),
}


def _resolved(document: dict[str, Any]) -> dict[str, Any]:
    """The compared components with every `$ref` replaced by what it points to (Cog 0.9.8 refers
    to models, Sprocket writes them in place; either way the schema is the same)."""
    components = document["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = components[node["$ref"].rsplit("/", 1)[1]]
            return {**resolve(target), **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
        return {key: resolve(value) for key, value in node.items()}

    return {name: resolve(components[name]) for name in _COMPARED if name in components}


def _undo_deliberate(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    undone = copy.deepcopy(ours)
    for name, schema in undone.items():
        for undo in DELIBERATE[name]:
            undo(schema, theirs.get(name, {}))
    return undone


_SERVED_BY_COG_098 = [case for case in CASES if COG_098 not in case.cannot_load]


@pytest.fixture(scope="module")
def cog_098(compat_envs: dict[str, Env]) -> Env:
    return compat_envs[COG_098]


@pytest.mark.parametrize("case", _SERVED_BY_COG_098, ids=[case.predictor for case in _SERVED_BY_COG_098])
def test_schemas_equal_cog_098s(case: Case, cog_098: Env) -> None:
    cog = CogServer(case.directory, cog_098.python)
    sprocket: Server | None = None
    try:
        health = cog.wait_for_status("READY", "SETUP_FAILED", timeout=60)
        if case.predictor in COG_098_REFUSES:
            assert health["status"] == "SETUP_FAILED" and COG_098_REFUSES[case.predictor] in health["setup"]["logs"]
            return
        assert health["status"] == "READY", health
        theirs = _resolved(cog.get("/openapi.json").json())
        sprocket = serve(case.directory, cog_098, case.env)
        sprocket.wait_for_status("READY")
        ours = _resolved(sprocket.get("/openapi.json").json())
    finally:
        cog.stop()
        if sprocket is not None:
            sprocket.stop()
    assert _undo_deliberate(ours, theirs) == theirs
