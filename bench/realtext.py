"""Real text on this machine, for benchmarks: Debian man pages and package documentation.

Two disjoint parts, so a bench can index one and use the other as unrelated text:

* :func:`man_pages` — English man pages (sections 1, 5, 7, 8) with the roff requests and
  font escapes stripped (their prose, option lists and examples stay, as a model would
  quote them).
* :func:`package_docs` — ``/usr/share/doc``: READMEs, NEWS, Markdown, plain text and
  Debian changelogs. Left out: copyright files (licence texts also sit inside man pages),
  git's documentation (the same text as its man pages), and Python's documentation and
  packages (held back as an external yardstick).

Nothing here is generated or downloaded; the same machine gives the same texts.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["chunks", "man_pages", "package_docs", "strip_roff"]

MAN_ROOT = Path("/usr/share/man")
DOC_ROOT = Path("/usr/share/doc")
_HELD_BACK = ("python", "libpython", "git")  # python: held back; git: duplicates man pages
_DOC_SUFFIXES = ("", ".md", ".txt", ".Debian", ".rst", ".news")

_COMMENT = re.compile(r"^['.]\\\".*$", re.M)
_REQUEST = re.compile(r"^[.'][ \t]*[A-Za-z]{1,3}\b[ \t]*", re.M)
_ESCAPES = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\s[+-]?\d|\\\(..|\\\*(?:\(..|.)|\\[&|^c%]")


def strip_roff(source: str) -> str:
    """The text of a roff man page: requests' names, comments and font escapes removed."""
    text = _COMMENT.sub("", source)
    text = _REQUEST.sub("", text)
    text = _ESCAPES.sub("", text)
    return text.replace("\\-", "-").replace("\\e", "\\").replace('"', "")


def _read(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path) as f:
            return f.read().decode("utf-8", errors="replace")
    raw = path.read_bytes()
    return raw.decode("utf-8", errors="replace")


def man_pages(sections: str = "1578") -> Iterator[tuple[str, str]]:
    """(name, text) of each English man page, in a stable order."""
    for section in sections:
        for path in sorted((MAN_ROOT / f"man{section}").glob("*.gz")):
            try:
                yield path.name, strip_roff(_read(path))
            except (OSError, EOFError):
                continue


def package_docs() -> Iterator[tuple[str, str]]:
    """(name, text) of each documentation file in ``/usr/share/doc`` (module docstring)."""
    for root, dirs, files in sorted(os.walk(DOC_ROOT)):
        dirs.sort()
        parts = Path(root).relative_to(DOC_ROOT).parts
        if parts and parts[0].startswith(_HELD_BACK):
            continue
        for name in sorted(files):
            base = name[:-3] if name.endswith(".gz") else name
            if base.startswith("copyright") or os.path.splitext(base)[1] not in _DOC_SUFFIXES:
                continue
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                text = _read(path)
            except (OSError, EOFError):
                continue
            if "\0" not in text:
                yield str(path.relative_to(DOC_ROOT)), text


def chunks(text: str, words: int) -> Iterator[str]:
    """Consecutive pieces of ``words`` whitespace-separated words (line breaks kept)."""
    tokens = re.findall(r"\S+\s*", text)
    for start in range(0, len(tokens) - words + 1, words):
        yield "".join(tokens[start : start + words]).strip()
