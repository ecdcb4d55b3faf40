"""Which streams of a redaction log are being written right now.

A stream without its closing seal is either still being written (the review page's
verdict stream, a running proxy) or was cut off. Each writer holds an exclusive lock on
``.live-<stream>`` (inside a JSON Lines directory; ``.<db>.live-<stream>`` next to a SQLite
database) for as long as it writes; the operating system drops the lock when the process
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

__all__ = ["LiveLock", "live_streams", "lock_path"]


def _lock_prefix(log: str | Path) -> tuple[Path, str]:
    """The directory of the lock files of ``log`` and their name prefix."""
    path = Path(log)
    if path.is_dir():
        return path, ".live-"
    return path.parent, f".{path.name}.live-"


def lock_path(log: str | Path, stream: str) -> Path:
    """The lock file a writer of ``stream`` holds (a JSON Lines directory or a database)."""
    directory, prefix = _lock_prefix(log)
    return directory / f"{prefix}{stream}"


class LiveLock:
    """Held by one writer for one stream, from open to close."""

    __slots__ = ("_file", "path")

    def __init__(self, log: str | Path, stream: str) -> None:
        self.path = lock_path(log, stream)
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
    paths = list(paths)
    places = [_lock_prefix(log) for log in paths]
    # A JSON Lines segment named on its own: its directory's writers.
    places += [(Path(log).parent, ".live-") for log in paths if str(log).endswith(".jsonl")]
    for directory, prefix in places:
        for lock in directory.glob(f"{prefix}*"):
            try:
                with lock.open("r", encoding="ascii") as handle:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                found.add(lock.name.removeprefix(prefix))
            except OSError:  # removed meanwhile: its writer closed
                continue
    return found
