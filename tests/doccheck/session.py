"""Running a session of console blocks for real: a scratch copy of the repository, a server if the
block asks for one, one bash in which each command is sourced in turn, and the comparison of what
each printed with what the docs show.

Every command runs with stdin from /dev/null and stderr into stdout (a transcript shows both), and
must exit 0 before its deadline. The session's bash and server each get a process group of their
own, which is killed when the session ends; `cleanup=` handles what a command started elsewhere
(containers, a daemon).
"""

from __future__ import annotations

import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from runtime.config import SETTINGS
from tests.doccheck.blocks import REPO, Session, block_timeout, steps
from tests.doccheck.compare import difference, matches, normalise
from tests.support import wait_until

SERVER_READY_SECONDS = 120.0
CLEANUP_SECONDS = 120.0
_LISTENING = re.compile(r"listening on http://\S+:(\d+)")
# Settings a developer's shell may hold, and what `make docs-check` itself sets (a `make` run
# under it would say "Entering directory"): a reader's shell has none of them.
_SCRUBBED = {s.env for s in SETTINGS if s.env} | {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "KUBERNETES_SERVICE_HOST",
    "MAKELEVEL",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKEOVERRIDES",
}


class DocsMismatch(AssertionError):
    """A command failed, timed out, or printed something other than what the docs show."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scratch_copy(directory: Path) -> Path:
    """The repository's files as the working tree has them (tracked, and untracked but not
    ignored) under `directory`/sprocket, with .venv linking to the checkout's venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    root = directory / "sprocket"
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)  # mtimes kept, so make sees .venv as up to date
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def base_environment(tmp: Path) -> dict[str, str]:
    """The caller's environment without Sprocket's settings, an active venv or pytest's
    variables; TMPDIR is `tmp`."""
    venv_bins = {str(Path(sys.prefix) / "bin"), str(REPO / ".venv" / "bin")}
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("PYTEST_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p not in venv_bins)
    # PYTHONUNBUFFERED: Python writes as it goes, as on a terminal, so stdout and stderr
    # interleave in a transcript as a reader sees them.
    env |= {"TMPDIR": str(tmp), "TERM": "dumb", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    return env


def with_venv(env: Mapping[str, str], root: Path) -> dict[str, str]:
    """What `source .venv/bin/activate` does to the environment, for processes not started by the shell."""
    venv = root / ".venv"
    return {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}


def substitute(command: str, ports: Mapping[int, int]) -> str:
    """The command with each port the docs show replaced by the one picked for this run."""
    for shown, actual in ports.items():
        command = re.sub(rf"\b(localhost|127\.0\.0\.1|\[::1\]):{shown}(?!\d)", rf"\g<1>:{actual}", command)
        command = re.sub(rf"\bPORT={shown}(?!\d)", f"PORT={actual}", command)
    return command


def _kill_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process's group, SIGKILL after `grace` s; the group is gone afterwards."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


class Shell:
    """One bash in a process group of its own; `run` sources a command in it and returns what it
    printed and its exit status. `cd`, variables and `source` carry from one command to the next."""

    def __init__(self, cwd: Path, env: Mapping[str, str], scratch: Path) -> None:
        self._mark = f"__docs_check_{secrets.token_hex(8)}__"
        self._commands = scratch / "commands"
        self._commands.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._buffer = b""

    def run(self, command: str, timeout: float) -> tuple[str, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        script = self._commands / f"{len(list(self._commands.iterdir())):03}.sh"
        script.write_text(command + "\n")
        self.process.stdin.write(f"source {script} </dev/null 2>&1; printf '\\n{self._mark} %d\\n' $?\n".encode())
        self.process.stdin.flush()
        ending = re.compile(rb"\n" + self._mark.encode() + rb" (\d+)\n")
        deadline = time.monotonic() + timeout
        while not (found := ending.search(self._buffer)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(self._buffer.decode(errors="replace"))
            ready, _, _ = select.select([self.process.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise DocsMismatch(f"the shell exited ({self.process.wait(5)}) while running:\n{command}")
                self._buffer += chunk
        output, self._buffer = self._buffer[: found.start()], self._buffer[found.end() :]
        return output.decode(errors="replace"), int(found.group(1))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        _kill_group(self.process, grace=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


class BackgroundServer:
    """`command` run by bash in the background with PORT=0 (so the server takes a free port),
    until it says where it listens and its /health-check says READY."""

    def __init__(self, command: str, cwd: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=cwd,
                env={**env, "PORT": "0"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.port = int(wait_until(self._listening, SERVER_READY_SECONDS, f"`{command}` to listen"))
            wait_until(self._ready, SERVER_READY_SECONDS, f"`{command}` to be READY")
        except AssertionError as error:
            self.stop()
            raise DocsMismatch(f"{error}\nits log:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def _listening(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}")
        found = _LISTENING.search(self.log_path.read_text(errors="replace"))
        return found.group(1) if found else None

    def _ready(self) -> bool:
        try:
            body = requests.get(f"http://127.0.0.1:{self.port}/health-check", timeout=5).json()
        except requests.RequestException:
            return False
        if body.get("status") in ("SETUP_FAILED", "FAILED"):
            raise AssertionError(f"the server's health is {body}")
        return body.get("status") == "READY"

    def stop(self) -> None:
        _kill_group(self.process, grace=30)


def run_session(session: Session, scratch: Path) -> int:
    """Run every command of the session in order; DocsMismatch at the first that fails or prints
    something other than the docs show. Returns how many commands ran."""
    root = scratch_copy(scratch)
    wanted = session.needs
    ports = {port: free_port() for port in wanted.ports}
    # A short TMPDIR, as most machines have: Sprocket's IPC sockets live under it, and a socket
    # path may not exceed 107 bytes (pytest's own temporary directories come close).
    tmp = Path(tempfile.mkdtemp(prefix="docs-", dir="/tmp"))
    env = base_environment(tmp)
    if wanted.venv:
        env = with_venv(env, root)
    cwd = root / wanted.cwd
    server: BackgroundServer | None = None
    shell: Shell | None = None
    ran = 0
    try:
        if wanted.server is not None:
            server = BackgroundServer(wanted.server, cwd, env, scratch / "server.log")
            ports[wanted.port] = server.port
        shell = Shell(cwd, env, scratch)
        paths = [str(root), str(REPO), os.path.realpath(root)]
        shown = {actual: port for port, actual in ports.items()}
        for block in session.blocks:
            timeout = block_timeout(block, session)
            for step in steps(block):
                where = f"{block.path}:{step.line}: `{step.command}`"
                try:
                    output, status = shell.run(substitute(step.command, ports), timeout)
                except TimeoutError as partial:
                    raise DocsMismatch(f"{where} did not finish within {timeout:g} s; it printed:\n{partial}") from None
                ran += 1
                if status != 0:
                    raise DocsMismatch(f"{where} exited with {status}; it printed:\n{output}")
                expected = normalise("\n".join(step.expected), shown, paths)
                actual = normalise(output, shown, paths)
                if not matches(expected, actual):
                    raise DocsMismatch(
                        f"{where} printed something else (normalised):\n{difference(expected, actual)}\n"
                        f"--- what it printed:\n{output}"
                        + (f"\n--- the server's log:\n{server.log()}" if server else "")
                    )
        return ran
    finally:
        if shell is not None:
            shell.close()
        if server is not None:
            server.stop()
        if wanted.cleanup is not None:
            subprocess.run(
                ["bash", "-c", substitute(wanted.cleanup, ports)],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CLEANUP_SECONDS,
                check=False,
            )
        shutil.rmtree(tmp, ignore_errors=True)
