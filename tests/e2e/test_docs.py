"""The docs' console blocks that need Docker, HAProxy or the examples' packages, run for real
(tests/doccheck says how). `make test` and `make docs-check` install what they need first; without
it they fail, they do not skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doccheck.blocks import Session, all_sessions
from tests.doccheck.session import run_session

pytestmark = pytest.mark.slow

SESSIONS = [session for session in all_sessions() if session.layer == "e2e"]


@pytest.mark.parametrize("session", SESSIONS, ids=[session.where for session in SESSIONS])
def test_console_block_prints_what_the_docs_show(session: Session, tmp_path: Path) -> None:
    run_session(session, tmp_path)
