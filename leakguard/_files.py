"""Write-then-rename, once: a reader (another process, a resumed run) sees the old file or
the whole new one, never a half-written one."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replacing", "write_atomically"]


def _tmp_for(path: Path, tmp_dir: Path | None) -> Path:
    # Unique per process and thread: concurrent writers of one path never share a tmp file.
    name = f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    return (tmp_dir if tmp_dir is not None else path.parent) / name


@contextlib.contextmanager
def replacing(path: Path, *, tmp_dir: Path | None = None, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without an error it replaces
    ``path`` (parents created), otherwise it is removed and ``path`` stays as it was.
    ``tmp_dir`` must be on the same file system as ``path`` (default: ``path``'s folder);
    ``fsync`` flushes the written file to disk before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(path, tmp_dir)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(
    path: Path, data: str | bytes, *, tmp_dir: Path | None = None, fsync: bool = False
) -> None:
    """Replace ``path`` with ``data`` (text as UTF-8) in one rename."""
    with replacing(path, tmp_dir=tmp_dir, fsync=fsync) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
