"""Serve an example from examples/ with the real runtime, as its image would: cog.yaml names the
predictor and its `environment` is applied. Examples whose packages are missing fail, naming the
command that installs them; they are never skipped."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator

import pytest
import yaml

from tests.support import REPO, Server

EXAMPLES = REPO / "examples"
INSTALL = f"{sys.executable} -m pip install -r examples/requirements-test.txt (`make test` does this)"


def require(*modules: str) -> None:
    """Fail (not skip) the test when a package an example needs is not installed here."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed in {sys.prefix}: {INSTALL}", pytrace=False)


def cog_environment(example: str) -> dict[str, str]:
    """cog.yaml's `environment` (the image's ENV), as a dict."""
    config = yaml.safe_load((EXAMPLES / example / "cog.yaml").read_text())
    return dict(entry.split("=", 1) for entry in config.get("environment") or [])


def example_server(
    example: str, modules: tuple[str, ...] = (), env: dict[str, str] | None = None, setup_timeout: float = 30
) -> Callable[[], Iterator[Server]]:
    """A module fixture serving examples/`example`, READY before the first test."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[Server]:
        require(*modules)
        server = Server("", workdir=EXAMPLES / example, env={**cog_environment(example), **(env or {})})
        try:
            server.wait_for_status("READY", timeout=setup_timeout)
            yield server
        finally:
            server.stop()

    return fixture
