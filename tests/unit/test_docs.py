"""The docs checker's own rules (tests/doccheck), and that every block in the docs can be read
and every command of a ```sh block is accounted for. No processes: the blocks themselves run in
tests/integration/test_docs.py and tests/e2e/test_docs.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.doccheck.blocks import Block, DocsError, all_sessions, doc_files, needs, sh_commands, steps
from tests.doccheck.compare import matches, normalise
from tests.doccheck.coverage import SH_COVERAGE, ci_lines, kind
from tests.doccheck.session import substitute
from tests.support import REPO


def block(*body: str, comment: str | None = "") -> Block:
    return Block(Path("page.md"), 10, "console", body, comment)


# ---------------------------------------------------------------- reading transcripts


def test_a_command_goes_on_while_a_quote_is_open_or_a_line_ends_with_a_continuation() -> None:
    found = steps(
        block(
            "$ curl -s localhost:5000/predictions \\",
            '    -d \'{"input":',
            "    {}}' | jq -c .",
            '{"status":"succeeded"}',
            "$ echo done",
            "done",
        )
    )
    assert [s.command for s in found] == [
        "curl -s localhost:5000/predictions \\\n    -d '{\"input\":\n    {}}' | jq -c .",
        "echo done",
    ]
    assert [s.expected for s in found] == [('{"status":"succeeded"}',), ("done",)]
    assert [s.line for s in found] == [11, 15]


def test_a_here_document_belongs_to_its_command() -> None:
    [step] = steps(block("$ cat > x.py <<'EOF'", "print('it's here')", "EOF"))
    assert step.command == "cat > x.py <<'EOF'\nprint('it's here')\nEOF"
    assert step.expected == ()


def test_output_before_any_command_is_an_error() -> None:
    with pytest.raises(DocsError, match=r"page.md:11: output before the first"):
        steps(block("hello", "$ echo hello"))


def test_a_console_block_without_a_check_comment_is_an_error() -> None:
    with pytest.raises(DocsError, match="needs a `<!-- check: ... -->` comment"):
        needs(block("$ true", comment=None))


def test_the_comment_vocabulary() -> None:
    wanted = needs(
        block("$ true", comment='venv docker cwd=examples/hello server="make serve" ports=8080,8404 timeout=5')
    )
    assert (wanted.venv, wanted.cwd, wanted.server, wanted.ports, wanted.timeout) == (
        True,
        "examples/hello",
        "make serve",
        (8080, 8404),
        5.0,
    )
    assert wanted.requires == {"docker"}
    with pytest.raises(DocsError, match="unknown word 'gpu'"):
        needs(block("$ true", comment="gpu"))
    with pytest.raises(DocsError, match="unknown key 'image'"):
        needs(block("$ true", comment="image=x"))
    with pytest.raises(DocsError, match="may only set timeout"):
        needs(block("$ true", comment="continue venv"))


# ---------------------------------------------------------------- comparing output


def test_what_varies_between_runs_is_normalised_on_both_sides() -> None:
    shown = '{"id":"44137c7f6bc19adb500376a6b7009be1","completed_at":"2026-12-05T09:52:49.296154+00:00","metrics":{"predict_time":5.5e-05}}'
    run = '{"id":"0687560c984b6d6cb3c719b8be9e60d8","completed_at":"2027-01-01T00:00:00.000001+00:00","metrics":{"predict_time":0.0123}}'
    assert normalise(shown, {}, []) == normalise(run, {}, [])
    assert normalise("built img (1ee7d77a3aa7) in 24.7s", {}, []) == normalise("built img (d3444da75212) in 3s", {}, [])
    assert normalise("listening on http://[::]:39037 from /tmp/x/sprocket", {39037: 5000}, ["/tmp/x/sprocket"]) == [
        "listening on http://[::]:5000 from ~/sprocket"
    ]


def test_behaviour_is_not_normalised() -> None:
    assert normalise('{"status":"succeeded","output":"hello world"}', {}, []) != normalise(
        '{"status":"failed","output":null}', {}, []
    )
    assert normalise('{"x":176}', {}, []) != normalise('{"x":177}', {}, [])


def test_an_ellipsis_line_stands_for_any_number_of_lines() -> None:
    assert matches(["a", "...", "z"], ["a", "z"])
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert matches(["...", "z"], ["a", "z"])
    assert not matches(["a", "...", "z"], ["a", "b"])
    assert not matches(["a"], ["a", "b"])
    assert matches([], [])
    assert not matches([], ["something"])


def test_ports_in_host_positions_are_substituted_and_container_ports_are_not() -> None:
    command = "docker run -p 127.0.0.1:5001:5000 x; curl localhost:5001/readyz; PORT=5001 python -m runtime; echo 50010"
    assert substitute(command, {5001: 41234, 5000: 40000}) == (
        "docker run -p 127.0.0.1:41234:5000 x; curl localhost:41234/readyz; PORT=41234 python -m runtime; echo 50010"
    )


# ---------------------------------------------------------------- the docs themselves


def test_every_console_block_in_the_docs_can_be_read() -> None:
    sessions = all_sessions()  # raises DocsError naming the file and line of a block it cannot read
    assert {s.layer for s in sessions} == {"integration", "e2e"}
    assert {str(page) for page in doc_files()} >= {"README.md", "CONTRIBUTING.md", "docs/http-api.md"}


def _shown_sh_commands() -> dict[str, str]:
    return {command: block.where for page in doc_files() for block, command in sh_commands(page)}


def test_every_sh_command_in_the_docs_is_accounted_for() -> None:
    shown = _shown_sh_commands()
    unaccounted = {command: where for command, where in shown.items() if command not in SH_COVERAGE}
    assert not unaccounted, f"add these to tests/doccheck/coverage.py, saying what runs them: {unaccounted}"
    stale = set(SH_COVERAGE) - set(shown)
    assert not stale, f"tests/doccheck/coverage.py lists commands no page shows any more: {stale}"


def test_each_way_of_covering_a_command_holds() -> None:
    servers = {s.needs.server for s in all_sessions()}
    for command in SH_COVERAGE:
        how, argument = kind(command)
        if how == "ci":
            assert command in ci_lines(), f"{command!r} is not a line of .ci/run"
        elif how == "server":
            assert command in servers, f"no console block runs {command!r} as its server="
        elif how == "recipe":
            assert " pytest " in f" {argument} ", argument  # checked with `make -n` in tests/integration
        elif how == "test":
            path, _, name = argument.partition("::")
            tree = ast.parse((REPO / path).read_text())
            assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, argument
        else:
            raise AssertionError(f"{command!r}: unknown way {how!r}")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces to -."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_between_the_docs_points_at_a_file_and_heading_that_exist() -> None:
    broken = []
    for page in doc_files():
        text = re.sub(r"```.*?```", "", (REPO / page).read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (REPO / page).parent / path if path else REPO / page
            if not resolved.exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
