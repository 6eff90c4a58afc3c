"""Each prediction's working directory: its input files, and what predict() writes with tempfile.

Making a directory and removing it again costs more than the rest of a short prediction's work in
the front, so a directory handed back empty (the common case) waits in a pool for a later
prediction; one with files left in it is removed, in a thread. The pool never holds more
directories than were ever in use at once (a directory is made only when none is waiting), so
after a burst of 256 streams the next burst makes none.
All of them live in one private (0700) directory, made on first use and removed at close.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile


class WorkdirPool:
    def __init__(self) -> None:
        self._root: str | None = None
        self._idle: list[str] = []

    def acquire(self) -> str:
        """An empty directory that no running prediction uses."""
        if self._idle:
            return self._idle.pop()
        if self._root is None:
            self._root = tempfile.mkdtemp(prefix="sprocket-work-")
        # A fresh random name, never the client's id, which could hold "../".
        return tempfile.mkdtemp(dir=self._root)

    def release(self, path: str) -> asyncio.Future[None] | None:
        """Take `path` back once its prediction is over. Returns the removal running in a
        thread when files were left in it, for the caller to keep track of."""
        try:
            with os.scandir(path) as entries:
                empty = next(entries, None) is None
        except FileNotFoundError:
            return None
        if empty:
            self._idle.append(path)
            return None
        return asyncio.ensure_future(asyncio.to_thread(shutil.rmtree, path, True))

    def close(self) -> None:
        """Remove every directory, those still in use included: call it once nothing runs."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None
        self._idle.clear()
