from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.compat.envs import ENVS, Env, ensure_all
from tests.support import Server


@pytest.fixture(scope="session")
def compat_envs() -> dict[str, Env]:
    """The three venvs (made once, reused by later runs while their pins stay the same)."""
    return ensure_all()


@pytest.fixture(params=[env.name for env in ENVS])
def env(request: pytest.FixtureRequest, compat_envs: dict[str, Env]) -> Env:
    return compat_envs[request.param]


@pytest.fixture(scope="session")
def openapi_documents() -> dict[tuple[str, str], dict[str, Any]]:
    """/openapi.json of each (predictor, environment) served so far in this session."""
    return {}


def serve(directory: Path, env: Env, variables: dict[str, str] | None = None) -> Server:
    """`python -m runtime` from `env`'s venv, in a model directory, its cog.yaml naming the predictor."""
    return Server("", workdir=directory, python=env.python, env=variables)


@pytest.fixture
def compat_server() -> Iterator[Any]:
    servers: list[Server] = []

    def start(directory: Path, env: Env, variables: dict[str, str] | None = None) -> Server:
        servers.append(server := serve(directory, env, variables))
        return server

    yield start
    for server in servers:
        server.stop()
