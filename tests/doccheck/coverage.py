"""How each command in the docs' ```sh blocks is kept honest. Those blocks show commands without
their output (long runs, the test suites themselves); each command must be listed here with what
runs it, and every entry here must still be shown somewhere, so nothing is silently skipped:

    ci              a line of .ci/run: CI runs it on every push
    server          a console block's `server=`: the docs checker runs it and talks to it
    recipe TEXT     a target that runs a part of the test suite: `make -n` must show TEXT, a
                    pytest command over paths `make test` (CI) also runs
    test PATH::NAME a test that runs the command itself
"""

from __future__ import annotations

from tests.doccheck.blocks import REPO

SH_COVERAGE: dict[str, str] = {
    "make serve": "server",
    "make test": "ci",
    "make lint": "ci",
    "make test-fast": "recipe -m pytest tests/unit tests/integration",
    "make docs-check": "recipe -m pytest tests/unit/test_docs.py tests/integration/test_docs.py tests/e2e/test_docs.py",
    "make compat": "recipe -m pytest tests/e2e/compat",
    "make settings-table": "test tests/integration/test_docs.py::test_make_settings_table_writes_the_settings_page",
}


def ci_lines() -> list[str]:
    return [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]


def kind(command: str) -> tuple[str, str]:
    """The way `command` is covered and its argument ("" for ci and server)."""
    how, _, argument = SH_COVERAGE[command].partition(" ")
    return how, argument
