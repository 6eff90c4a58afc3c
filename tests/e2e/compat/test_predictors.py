"""Predictors written for Cog, served unchanged by `python -m runtime` in each environment: no
`cog` package (Sprocket's stand-in), Cog 0.9.8, and the latest Cog (tests/e2e/compat/envs.py).
Each case (cases.py) is one predictor, one SDK feature, run through a real server."""

from __future__ import annotations

from pathlib import Path
from threading import Thread
from typing import Any, Callable

import pytest

from runtime.version import COG_API_VERSION, VERSION
from tests.e2e.compat.cases import CASES, COG_098, PREDICTORS, Case
from tests.e2e.compat.envs import ENVS, Env
from tests.support import Server, wait_until

StartServer = Callable[..., Server]


def _contains(whole: Any, part: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _contains(whole[k], v) for k, v in part.items())
    return bool(whole == part)


def _setup_error(server: Server) -> str:
    health = server.wait_for_status("SETUP_FAILED")
    return f"{health.get('error', '')}\n{health['setup']['logs']}"


@pytest.mark.parametrize("case", CASES, ids=[case.predictor for case in CASES])
def test_predictor(
    case: Case, env: Env, compat_server: StartServer, openapi_documents: dict[tuple[str, str], dict[str, Any]]
) -> None:
    server = compat_server(case.directory, env, case.env)
    if env.name in case.cannot_load:
        assert case.cannot_load[env.name] in _setup_error(server)
        return
    server.wait_for_status("READY")
    openapi_documents[(case.predictor, env.name)] = server.get("/openapi.json").json()
    response = server.post(case.route, json=case.request)
    assert response.status_code == 200, response.text
    body = response.json()
    if env.name in case.fails:
        assert body["status"] == "failed" and case.fails[env.name] in body["error"], body
        return
    assert _contains(body, case.expect), f"expected {case.expect}, got {body}"
    if case.then is not None:
        case.then(server)


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    components = document["components"]["schemas"]
    return {name: schema for name, schema in components.items() if name not in ("PredictionRequest", "TrainingRequest")}


@pytest.mark.parametrize("case", CASES, ids=[case.predictor for case in CASES])
def test_openapi_is_the_same_in_every_environment(
    case: Case,
    compat_envs: dict[str, Env],
    compat_server: StartServer,
    openapi_documents: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The document (so validation too, which is built from the same description) does not
    depend on which `cog` the predictor imported. Reuses what test_predictor fetched. Left out:
    environments where the predictor cannot load, or where its `cog` makes it behave otherwise
    (`fails`: a field Cog 0.23's BaseModel requires is required in the document too)."""
    documents = {}
    for env in ENVS:
        if env.name in case.cannot_load or env.name in case.fails:
            continue
        key = (case.predictor, env.name)
        if key not in openapi_documents:  # this test run on its own
            server = compat_server(case.directory, compat_envs[env.name], case.env)
            server.wait_for_status("READY")
            openapi_documents[key] = server.get("/openapi.json").json()
        documents[env.name] = _schemas(openapi_documents[key])
    first, *others = documents.items()
    for name, schemas in others:
        assert schemas == first[1], f"{name} differs from {first[0]}"


def test_cog_version_is_the_installed_one(env: Env, compat_server: StartServer) -> None:
    server = compat_server(PREDICTORS / "cog_version", env)
    server.wait_for_status("READY")
    installed = env.cog or COG_API_VERSION
    assert server.predict()["output"] == installed  # the predictor sees the real package's own
    index = server.get("/").json()
    assert (index["cog_version"], index["sprocket_version"]) == (installed, VERSION)


def test_failed_setup_answers_503_in_both_shapes(env: Env, compat_server: StartServer) -> None:
    server = compat_server(PREDICTORS / "setup_fails", env)
    assert "RuntimeError: weights missing" in _setup_error(server)
    response = server.post("/predictions", json={})
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed" and "weights missing" in body["error"] and body["detail"] == body["error"]


@pytest.mark.parametrize(
    ("predictor", "logs_end"),
    [
        ("cancel", "cleaned up\n"),  # its `finally:` ran: the cancel was an exception inside predict()
        # `except cog.CancelationException` sees it: with Cog 0.17+ installed, that is coglet's class.
        ("cancel_exception", "caught the cancel\n"),
    ],
)
def test_cancel_reaches_a_running_predict(
    predictor: str, logs_end: str, env: Env, compat_server: StartServer, tmp_path: Path
) -> None:
    server = compat_server(PREDICTORS / predictor, env)
    if predictor == "cancel_exception" and env.name == COG_098:  # 0.9.8 kept it in cog.server.exceptions
        assert "ImportError: cannot import name 'CancelationException' from 'cog'" in _setup_error(server)
        return
    server.wait_for_status("READY")
    started = tmp_path / "started"
    results: list[dict[str, Any]] = []
    request = Thread(
        target=lambda: results.append(server.put("/predictions/c1", json={"input": {"started": str(started)}}).json())
    )
    request.start()
    wait_until(started.exists, 15, "predict() to start")
    assert server.post("/predictions/c1/cancel").status_code == 200
    request.join(30)
    [body] = results
    assert (body["status"], body["output"]) == ("canceled", None)
    assert body["logs"].endswith(logs_end)
