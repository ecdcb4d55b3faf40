"""Evaluation data nobody in this project wrote, read at run time from a Debian machine.

Two sets, both extracted by a rule a reader can check, both split in two by a hash of the
source file's path (``dev``: looked at while tuning; ``test``: scored only at the end):

* **clean prose** (:func:`clean_prose`): package READMEs and docs under ``/usr/share/doc``
  and English man pages, rendered by ``man``. Text that is not prose about software is left
  out *before* scoring, by these rules only: lines holding an e-mail address or a URL
  (counted, see :attr:`ProseDoc.dropped_lines`), credit lines (copyright, authors, written
  by, maintained by, thanks, contributors, credits, ``(c)``, ``©``), and man-page sections
  that name people or point elsewhere (AUTHOR(S), COPYRIGHT, REPORTING BUGS, SEE ALSO,
  HISTORY, ACKNOWLEDGEMENTS, CREDITS, MAINTAINERS). Python's own documentation
  (python3.x-doc) is held back and never read. Every finding left is a false finding,
  except one that covers a real person's name (counted apart: the docs do mention their
  authors): from the Debian name list below, a copyright holder, or a person the docs
  credit (:func:`credited_names`: "X <x@example.org>", "Patch from X", "X (3):").
* **real names in real contexts** (:func:`debian_names`): the trailer line of every entry in
  ``/usr/share/doc/*/changelog.Debian.gz`` (``" -- Name <email>  date"``) gives a person's
  name and address; the label rule is the line's own syntax. Names of teams and bots
  (Team, Janitor, Maintainers, Developers, Project, Bot, Debian, Ubuntu, Ltd, Inc) are not
  people and are dropped. Three contexts per package: trailer lines, changelog body lines
  that contain a listed name verbatim (``"* Thanks to Jane Doe for the patch"``,
  ``"[ Jane Doe ]"``), and ``copyright`` lines that contain one. Every verbatim occurrence
  of a listed name and every e-mail address in a line is labelled. Nothing is written
  to disk: real people's data stays on the machine it came from.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from leakguard.evaluation.scoring import LabelledText, Span

__all__ = [
    "Part",
    "ProseDoc",
    "clean_prose",
    "copyright_holders",
    "credited_names",
    "debian_name_list",
    "debian_names",
    "part_of",
    "word_count",
]

Part = Literal["dev", "test"]
DOC_ROOT = Path("/usr/share/doc")
MAN_ROOT = Path("/usr/share/man")
_HELD_BACK = re.compile(r"python3(\.\d+)?-doc|presidio")
_DOC_NAMES = re.compile(r"(?i)^(readme|news|faq|todo|howto|usage|intro)|\.(md|rst|txt)$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.[\w-]+\.")
_CREDIT = re.compile(
    r"(?i)copyright|\bauthors?\b|written by|maintained by|maintainer|thanks|contributor"
    r"|credits?\b|\(c\)|©|originally by|developed by|signed-off-by"
)
_SKIP_SECTIONS = re.compile(
    r"^(AUTHORS?|COPYRIGHT|REPORTING BUGS|SEE ALSO|HISTORY|ACKNOWLEDG\w*|CREDITS|MAINTAINERS?"
    r"|BUGS|COLOPHON|THANKS)\b"
)
_TRAILER = re.compile(r"^ -- (?P<name>[^<>\n]+?) <(?P<email>[^<>\s]+@[^<>\s]+)>  ")
_NOT_PEOPLE = re.compile(
    r"(?i)\b(team|janitor|maintainers?|developers?|project|bot|debian|ubuntu|ltd|inc|group"
    r"|packagers?|qa|admin|root|release|security|corporation|corp|foundation|university"
    r"|software|systems|technologies|labs?|limited|gmbh|llc|contributors|authors|free"
    r"|license|institute|company|consortium|association|network|community|others)\b"
)


@dataclass(frozen=True, slots=True)
class ProseDoc:
    """One document of clean prose: where it came from, its kept text, what was dropped."""

    source: str
    text: str
    dropped_lines: int


def part_of(path: str) -> Part:
    """``dev`` or ``test``: a fixed half of the sources by a hash of their path."""
    return "dev" if hashlib.sha256(path.encode()).digest()[0] % 2 == 0 else "test"


def word_count(text: str) -> int:
    return len(text.split())


def _read(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def _doc_files(root: Path) -> list[Path]:
    files = []
    for package in sorted(root.iterdir()) if root.is_dir() else []:
        if _HELD_BACK.search(package.name) or not package.is_dir():
            continue
        for path in sorted(package.rglob("*")):
            name = path.name.removesuffix(".gz")
            lower = name.lower()
            record = "changelog" in lower or "copyright" in lower
            if path.is_file() and not path.is_symlink() and _DOC_NAMES.search(name) and not record:
                files.append(path)
    return files


def _man_text(path: Path) -> str:
    env = {**os.environ, "MANWIDTH": "1000", "LC_ALL": "C.UTF-8", "MAN_DISABLE_SECCOMP": "1"}
    done = subprocess.run(
        ["man", "--nh", "--nj", "-l", "-P", "cat", str(path)],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    return done.stdout.decode("utf-8", errors="replace")


def _without_sections(text: str) -> str:
    """A man page without the sections that name people or point elsewhere."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line and not line[0].isspace():  # a section heading (or the page's header)
            skipping = bool(_SKIP_SECTIONS.match(line.strip()))
            continue
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _clean_lines(text: str) -> tuple[str, int]:
    kept, dropped = [], 0
    for line in text.splitlines():
        if _EMAIL.search(line) or _URL.search(line) or _CREDIT.search(line):
            dropped += 1
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), dropped


def clean_prose(
    part: Part, *, max_words: int = 20_000, doc_root: Path = DOC_ROOT, man_root: Path = MAN_ROOT
) -> list[ProseDoc]:
    """Documents of ``part`` until ``max_words``: half from package docs, half from man
    pages (sections 1 and 8, English), each source at most 500 words, in the order of a
    hash of their path (a fixed shuffle, so no one family of pages dominates)."""
    docs: list[ProseDoc] = []
    for sources, man in (
        (_doc_files(doc_root), False),
        (sorted((man_root / "man1").glob("*.gz")) + sorted((man_root / "man8").glob("*.gz")), True),
    ):
        budget = max_words // 2
        for path in sorted(sources, key=lambda p: hashlib.sha256(str(p).encode()).digest()):
            if budget <= 0:
                break
            if part_of(str(path)) != part:
                continue
            raw = _without_sections(_man_text(path)) if man else _read(path)
            text, dropped = _clean_lines(raw)
            words = text.split()
            if len(words) < 30:
                continue
            if len(words) > 500:
                text = _first_words(text, 500)
            docs.append(ProseDoc(source=str(path), text=text, dropped_lines=dropped))
            budget -= word_count(text)
    return docs


def _first_words(text: str, count: int) -> str:
    matches = list(re.finditer(r"\S+", text))
    return text[: matches[count - 1].end()] if len(matches) >= count else text


def _changelogs(doc_root: Path) -> list[Path]:
    return sorted(doc_root.glob("*/changelog.Debian.gz"))


def debian_name_list(doc_root: Path = DOC_ROOT) -> frozenset[str]:
    """Every person's name in a changelog trailer line on this machine (both parts)."""
    names = set()
    for path in _changelogs(doc_root):
        for line in _read(path).splitlines():
            match = _TRAILER.match(line)
            if match and _is_person(match["name"]):
                names.add(match["name"].strip())
    return frozenset(names)


_HOLDER = re.compile(
    r"(?im)copyright\b[: \t]*(?:\(c\)|©)?[ \t\d,-]*[ \t]"
    r"((?:[A-Z][\w'.-]+[ \t]){1,3}[A-Z][\w'-]+)"
)


def copyright_holders(doc_root: Path = DOC_ROOT) -> frozenset[str]:
    """People named as copyright holders in ``/usr/share/doc/*/copyright``
    (``Copyright: 2001-2005 Jane Doe <...>``, ``Copyright (C) 1999 Jane Doe``)."""
    names = set()
    for path in sorted(doc_root.glob("*/copyright")):
        for match in _HOLDER.finditer(_read(path)):
            if _is_person(match[1]):
                names.add(match[1].strip())
    return frozenset(names)


# How the docs credit a person, as in the credit lines and record files they ship: a display
# name before an address ("Jane Doe <jane@example.org>"), a git shortlog heading
# ("Jane Doe (3):"), or a credit verb before a name ("Patch from Jane Doe", "Reported-by:
# Jane Doe", "Thanks to Jane Doe", "written by Jane Doe", "designed by Jane Doe").
_PERSON_RUN = r"((?:[A-Z][\w'\u2019.-]*[ \t]){1,3}[A-Z][\w'\u2019-]+)"
_CREDITED = (
    re.compile(_PERSON_RUN + r"[ \t]+[<(][\w.+-]+(?:@|[ \t]+at[ \t]+)[\w-]+"),
    re.compile(r"(?m)^[ \t]*" + _PERSON_RUN + r"[ \t]+\(\d+\):[ \t]*$"),
    re.compile(
        r"(?i:thanks[ \t]+to|thanks,?|patch(?:es)?[ \t]+(?:from|by)|reported[ \t-]+by:?"
        r"|suggest(?:ed|ion)[ \t]+(?:by|from)|(?:written|designed|contributed|implemented"
        r"|maintained|developed|originally[ \t]+written|translated|created)[ \t]+by"
        r"|signed-off-by:|co-authored-by:|acked-by:|reviewed-by:|tested-by:|authors?:"
        r"|h/t[ \t]+to|credit[ \t]+to|help[ \t]+from)[ \t]+" + _PERSON_RUN
    ),
)


def credited_names(doc_root: Path = DOC_ROOT) -> frozenset[str]:
    """People the files under ``/usr/share/doc`` credit by one of the forms of
    ``_CREDITED`` (every package, both parts, record files included: changelogs, NEWS,
    AUTHORS, THANKS, copyright, READMEs): real people, whose names in the prose are real
    names and not false findings. Python's documentation is not read."""
    names = set()
    for package in sorted(doc_root.iterdir()) if doc_root.is_dir() else []:
        if _HELD_BACK.search(package.name) or not package.is_dir():
            continue
        for path in sorted(package.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.stat().st_size > 4_000_000:
                continue
            try:
                text = _read(path)
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            for pattern in _CREDITED:
                for match in pattern.finditer(text):
                    if _is_person(match[1]):
                        names.add(match[1].strip())
    return frozenset(names)


def _is_person(name: str) -> bool:
    return len(name.split()) >= 2 and not _NOT_PEOPLE.search(name) and not _EMAIL.search(name)


def debian_names(
    part: Part, *, per_kind: int = 400, doc_root: Path = DOC_ROOT
) -> dict[str, list[LabelledText]]:
    """Labelled lines of ``part`` by context: ``trailer``, ``changelog body``, ``copyright``.

    At most ``per_kind`` lines each, at most 3 per package and kind (so no one package
    dominates), each distinct line once.
    """
    names = debian_name_list(doc_root)
    finder = _name_finder(names)
    out: dict[str, list[LabelledText]] = {"trailer": [], "changelog body": [], "copyright": []}
    seen: set[str] = set()
    for path in _changelogs(doc_root):
        if part_of(str(path.parent)) != part:
            continue
        copyright_file = path.parent / "copyright"
        sources = [("changelog", _read(path))]
        if copyright_file.is_file():
            sources.append(("copyright", _read(copyright_file)))
        taken = dict.fromkeys(out, 0)
        for source, text in sources:
            for line in text.splitlines():
                kind = _kind(source, line)
                if kind is None or taken[kind] >= 3 or len(out[kind]) >= per_kind:
                    continue
                item = _label(line.strip("\n"), finder)
                if item is None or line in seen:
                    continue
                seen.add(line)
                taken[kind] += 1
                out[kind].append(item)
    return out


def _kind(source: str, line: str) -> str | None:
    if source == "copyright":
        return "copyright"
    if line.startswith(" -- "):
        return "trailer"
    # "  [ Jane Doe ]" heads a co-maintainer's entries: a record, not a sentence.
    return None if re.fullmatch(r"\s*\[[^]]*\]\s*", line) else "changelog body"


def _name_finder(names: Sequence[str] | frozenset[str]) -> re.Pattern[str]:
    ordered = sorted(names, key=len, reverse=True)  # the longest name wins at a position
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")


def _label(line: str, finder: re.Pattern[str]) -> LabelledText | None:
    spans = [Span(m.start(), m.end(), "PERSON") for m in finder.finditer(line)]
    if not spans:
        return None
    spans += [Span(m.start(), m.end(), "EMAIL_ADDRESS") for m in _EMAIL.finditer(line)]
    return LabelledText(text=line, spans=tuple(sorted(spans, key=lambda s: s.start)))


def iter_words(docs: Sequence[ProseDoc]) -> Iterator[int]:
    for doc in docs:
        yield word_count(doc.text)
