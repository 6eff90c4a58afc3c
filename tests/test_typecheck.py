"""The code stays fully typed: mypy, configured in pyproject.toml (every function annotated)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def test_mypy_finds_no_errors() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
