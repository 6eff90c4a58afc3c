from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.peers import Peer
from tests.support import Server


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Start servers for one test; each is stopped afterwards and must leave no process behind."""
    servers: list[Server] = []

    def start(predictor: str, **kwargs: object) -> Server:
        server = Server(predictor, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def module_server(predictor: str, **kwargs: object) -> Callable[[], Iterator[Server]]:
    """A fixture serving `predictor` to every test of a module, READY before the first."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[Server]:
        server = Server(predictor, **kwargs)  # type: ignore[arg-type]
        try:
            server.wait_for_status("READY")
            yield server
        finally:
            server.stop()

    return fixture


@pytest.fixture
def peer() -> Iterator[Peer]:
    """A real HTTP server on 127.0.0.1 for webhooks, uploads and input files."""
    server = Peer()
    yield server
    server.close()
