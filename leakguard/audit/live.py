"""Which streams of a redaction log are being written right now.

A stream without its closing seal is either still being written (the review page's
verdict stream, a running proxy) or was cut off. Each writer holds an exclusive lock on
``<log>.live/<stream>.lock`` (next to a SQLite database, inside a JSON Lines directory as
``.live/``) for as long as it writes; the operating system drops the lock when the process
ends, crashed or not. So ``audit verify`` can tell an open stream from a truncated one
without trusting anything the writer left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = ["LiveLock", "live_dir", "live_streams"]


def live_dir(log: str | Path) -> Path:
    """Where the writers of ``log`` (a JSON Lines directory or a database file) lock."""
    path = Path(log)
    return path / ".live" if path.is_dir() else path.with_name(path.name + ".live")


class LiveLock:
    """Held by one writer for one stream, from open to close."""

    __slots__ = ("_file", "path")

    def __init__(self, log: str | Path, stream: str) -> None:
        directory = live_dir(log)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{stream}.lock"
        self._file: IO[str] | None = open(self.path, "w", encoding="ascii")  # noqa: SIM115
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        """Unlock and remove the lock file. Idempotent."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._file.close()  # closing drops the lock
        self._file = None


def live_streams(paths: Iterable[str | Path]) -> set[str]:
    """The streams under ``paths`` whose writer holds its lock now."""
    found: set[str] = set()
    for log in paths:
        directory = live_dir(log)
        if not directory.is_dir():
            continue
        for lock in directory.glob("*.lock"):
            try:
                with lock.open("r", encoding="ascii") as handle:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                found.add(lock.stem)
            except OSError:  # removed meanwhile: its writer closed
                continue
    return found
