"""The docs' console blocks that need only Python and loopback, run for real (tests/doccheck says
how), and what covers the make targets their ```sh blocks show (tests/doccheck/coverage.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.doccheck.blocks import REPO, Session, all_sessions
from tests.doccheck.coverage import SH_COVERAGE, kind
from tests.doccheck.session import run_session, scratch_copy

SESSIONS = [session for session in all_sessions() if session.layer == "integration"]


@pytest.mark.parametrize("session", SESSIONS, ids=[session.where for session in SESSIONS])
def test_console_block_prints_what_the_docs_show(session: Session, tmp_path: Path) -> None:
    run_session(session, tmp_path)


RECIPES = {command: argument for command in SH_COVERAGE for how, argument in [kind(command)] if how == "recipe"}


@pytest.mark.parametrize("command", sorted(RECIPES))
def test_make_target_runs_a_part_of_what_ci_runs(command: str) -> None:
    """`make -n` shows the pytest command the docs promise, over paths that `make test` (which
    .ci/run runs) also collects: pytest's testpaths is `tests`, so every path must be under it."""
    target = command.split()[1]
    dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=30, check=True)
    expected = RECIPES[command]
    assert any(line.endswith(expected) for line in dry.stdout.splitlines()), f"make -n {target}:\n{dry.stdout}"
    paths = expected.split("pytest", 1)[1].split()
    assert paths and all(p.startswith("tests/") and (REPO / p.split("::")[0]).exists() for p in paths), paths


def test_make_settings_table_writes_the_settings_page(tmp_path: Path) -> None:
    """In a scratch copy whose docs/settings.md table was emptied, `make settings-table` writes
    the page the checkout has (tests/unit/test_settings_page.py checks that one is current)."""
    root = scratch_copy(tmp_path)
    page = root / "docs" / "settings.md"
    current = page.read_text()
    page.write_text(
        re.sub(r"(<!-- settings-table:.*?-->\n).*?(\n<!-- end settings-table -->)", r"\1\2", current, flags=re.S)
    )
    subprocess.run(["make", "settings-table"], cwd=root, capture_output=True, text=True, timeout=120, check=True)
    assert page.read_text() == current
