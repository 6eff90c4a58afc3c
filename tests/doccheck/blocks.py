"""Reading the docs' code blocks: ```console transcripts, the comment above each that says what it
needs, and the commands of ```sh blocks.

A ```console block is a transcript. `$ ` starts a command; the command goes on over the next lines
while a quote is open, a line ends with `\\`, `|`, `&&` or `||`, or a here-document (`<<'EOF'`)
has not reached its last line; every other line is what the command printed. An HTML comment right above the block says what it needs, in words and
`key=value` pairs (values quoted as in a shell):

    <!-- check: venv cwd=examples/hello server="python -m runtime" -->

    venv             the shell starts with Sprocket's venv active (`source .venv/bin/activate`)
    cwd=DIR          the shell starts in DIR of a scratch copy of the repository (default: its root)
    server=COMMAND   before the first command, COMMAND runs in the background from cwd with PORT=0;
                     `localhost:N`, `127.0.0.1:N` and `PORT=N` in the block (N from port=, default
                     5000) stand for the port it took; the block waits until it is READY
    port=N           the port the block's text shows for the server (default 5000)
    ports=N,M        other ports the block's text names; each stands for a free port found when it runs
    timeout=S        each command's deadline in seconds (default 60)
    cleanup=COMMAND  run when the session ends, whether it passed or not (containers, daemons)
    docker           needs the Docker engine and the base image     } any of these: the block runs
    haproxy          needs HAProxy                                  } in tests/e2e/test_docs.py;
    examples         needs the examples' packages (OpenCV, torch)   } else tests/integration/test_docs.py
    continue         runs in the shell the block above it in the same file left (working directory,
                     variables, server); beside it only timeout= may be given

A bare `<!-- check -->` runs the block in a fresh shell at the root of a scratch copy. A block
without a comment, a word the list above lacks, or a ```bash or ```shell block is an error: every
transcript is run, and ```sh blocks (commands shown without output) are accounted for in
`tests/doccheck/coverage.py`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^```([\w-]*)\s*$")
COMMENT = re.compile(r"^<!--\s*check(?::(.*?))?\s*-->\s*$")
REQUIREMENTS = frozenset({"docker", "haproxy", "examples"})
KEYS = frozenset({"cwd", "server", "port", "ports", "timeout", "cleanup"})
FLAGS = frozenset({"venv", "continue"}) | REQUIREMENTS
CONTINUATIONS = ("\\", "|", "&&", "||")
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


class DocsError(Exception):
    """A block the checker cannot read; the message starts with its file and line."""


def doc_files() -> list[Path]:
    """Every page whose blocks are checked, relative to the repository."""
    pages = [Path("README.md"), Path("CONTRIBUTING.md"), Path("CHANGELOG.md")]
    pages += sorted(path.relative_to(REPO) for path in (REPO / "docs").glob("*.md"))
    pages += sorted(path.relative_to(REPO) for path in (REPO / "examples").glob("*/README.md"))
    return [page for page in pages if (REPO / page).exists()]


@dataclass(frozen=True)
class Step:
    """One `$ command` and the lines the docs say it prints."""

    command: str
    expected: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Needs:
    venv: bool = False
    cwd: str = "."
    server: str | None = None
    port: int = 5000
    ports: tuple[int, ...] = ()
    timeout: float = 60.0
    cleanup: str | None = None
    requires: frozenset[str] = frozenset()
    continues: bool = False


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: tuple[str, ...]
    comment: str | None  # what follows "check" in the comment right above, or None without one

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Session:
    """Blocks run one after another in one shell: a block and the `continue` blocks after it."""

    blocks: list[Block] = field(default_factory=list)
    needs: Needs = field(default_factory=Needs)

    @property
    def where(self) -> str:
        return self.blocks[0].where

    @property
    def layer(self) -> str:
        return "e2e" if self.needs.requires else "integration"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of `page` (relative to the repository), with the check comment above each."""
    lines = (REPO / page).read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise DocsError(f"{page}:{index + 1}: code block never closed")
        above = COMMENT.match(lines[index - 1]) if index > 0 else None
        comment = (above.group(1) or "").strip() if above else None
        blocks.append(Block(page, index + 1, opening.group(1), tuple(lines[index + 1 : end]), comment))
        index = end + 1
    return blocks


def _complete(command: str) -> bool:
    if command.rstrip().endswith(CONTINUATIONS):
        return False
    here = HEREDOC.search(command.split("\n", 1)[0])
    if here:  # a here-document ends at the line holding only its word
        return here.group(1) in command.split("\n")[1:]
    try:
        shlex.split(command)
    except ValueError:  # an open quote, or a backslash with nothing after it
        return False
    return True


def steps(block: Block) -> list[Step]:
    """A console block's commands, each with the output lines the docs show for it."""
    found: list[Step] = []
    command: list[str] = []
    expected: list[str] = []
    start = 0
    for offset, text in enumerate(block.body, start=block.line + 1):
        if command and not _complete("\n".join(command)):
            command.append(text)
        elif text.startswith("$ "):
            if command:
                found.append(Step("\n".join(command), tuple(expected), start))
            command, expected, start = [text[2:]], [], offset
        elif not command:
            raise DocsError(f"{block.path}:{offset}: output before the first `$ ` command")
        else:
            expected.append(text)
    if not command:
        raise DocsError(f"{block.where}: a console block without a `$ ` command")
    if not _complete("\n".join(command)):
        raise DocsError(f"{block.path}:{start}: the command never ends (an open quote or a trailing `\\`?)")
    found.append(Step("\n".join(command), tuple(expected), start))
    return found


def needs(block: Block) -> Needs:
    """What the comment above a console block asks for."""
    if block.comment is None:
        raise DocsError(f"{block.where}: a console block needs a `<!-- check: ... -->` comment right above it")
    result = Needs()
    try:
        words = shlex.split(block.comment)
    except ValueError as error:
        raise DocsError(f"{block.where}: cannot read the check comment: {error}") from None
    for word in words:
        key, equals, value = word.partition("=")
        if not equals:
            if key not in FLAGS:
                raise DocsError(f"{block.where}: unknown word {key!r} in the check comment")
            if key == "venv":
                result = replace(result, venv=True)
            elif key == "continue":
                result = replace(result, continues=True)
            else:
                result = replace(result, requires=result.requires | {key})
            continue
        if key not in KEYS:
            raise DocsError(f"{block.where}: unknown key {key!r} in the check comment")
        try:
            if key in ("port", "timeout"):
                result = replace(result, **{key: int(value) if key == "port" else float(value)})
            elif key == "ports":
                result = replace(result, ports=tuple(int(port) for port in value.split(",")))
            else:
                result = replace(result, **{key: value})
        except ValueError:
            raise DocsError(f"{block.where}: {key}={value!r} is not a number") from None
    if result.continues and (result != replace(Needs(), continues=True, timeout=result.timeout)):
        raise DocsError(
            f"{block.where}: a `continue` block may only set timeout=; the session's first block says the rest"
        )
    if not (REPO / result.cwd).is_dir():
        raise DocsError(f"{block.where}: cwd={result.cwd} is not a directory of the repository")
    return result


def sessions(page: Path) -> list[Session]:
    """The page's console blocks, grouped into the sessions they run in, in order."""
    found: list[Session] = []
    for block in read_blocks(page):
        if block.lang in ("bash", "shell"):
            raise DocsError(f"{block.where}: write ```console (a transcript, run) or ```sh (commands, accounted for)")
        if block.lang != "console":
            continue
        wanted = needs(block)
        steps(block)  # a transcript that cannot be read fails here, before anything runs
        if wanted.continues:
            if not found:
                raise DocsError(f"{block.where}: `continue`, but no console block above it to continue")
            found[-1].blocks.append(block)
        else:
            found.append(Session([block], wanted))
    return found


def all_sessions() -> list[Session]:
    return [session for page in doc_files() for session in sessions(page)]


def block_timeout(block: Block, session: Session) -> float:
    """A continuing block's own timeout= if it gives one, else the session's."""
    own = needs(block)
    return own.timeout if block is not session.blocks[0] and own.timeout != Needs().timeout else session.needs.timeout


def sh_commands(page: Path) -> list[tuple[Block, str]]:
    """The commands of the page's ```sh blocks (comments and blank lines left out), each with its block."""
    found = []
    for block in read_blocks(page):
        if block.lang != "sh":
            continue
        for text in block.body:
            command = re.sub(r"\s+#\s.*$", "", text).strip()
            if command and not command.startswith("#"):
                found.append((block, command))
    return found
