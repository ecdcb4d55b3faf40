"""Real English sentences from this machine for the NER's training data: negatives, and
names put into real contexts.

Sources (none of them in ``bench/eval_real_text.py``'s clean-prose set, which reads
``/usr/share/doc`` and man sections 1 and 8; :func:`check_sources` enforces it):

* GNU info manuals (``/usr/share/info``), texinfo markup and menus dropped;
* Perl's POD (``.pod`` and the POD of ``.pm`` files under ``/usr/share/perl*``);
* the licence texts in ``/usr/share/common-licenses``;
* English man pages of sections 3, 5 and 7 (roff stripped).

Held back and never read: Python's documentation (python3.x-doc) and the presidio-research
family. Lines with an e-mail address, a URL or a credit ("written by", "copyright", ...)
are dropped, and so is every sentence in which leakguard's lexicon name finder or the
Debian name list sees a person, so that the negatives hold no names.

Silver positives (:func:`silver_lines`): changelog body lines of the *dev* half of the
Debian packages (``leakguard.evaluation.real_text.part_of``) that hold a name of the
Debian name list verbatim; that name is the label. Nothing is written to the repository.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from leakguard.evaluation.real_text import (  # noqa: E402
    _CREDIT,
    _EMAIL,
    _HELD_BACK,
    _URL,
    debian_name_list,
    part_of,
)
from leakguard.evaluation.scoring import LabelledText, Span  # noqa: E402

_INFO = Path("/usr/share/info")
_PERL = (Path("/usr/share/perl"), Path("/usr/share/perl5"))
_LICENCES = Path("/usr/share/common-licenses")
_MAN = Path("/usr/share/man")
_MAN_SECTIONS = ("man3", "man5", "man7")
_FORBIDDEN = (Path("/usr/share/doc"), _MAN / "man1", _MAN / "man8")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_TEXINFO = re.compile(r"^(?:\x1f|File: |Node: |\* Menu:|\* [^:]+::|START-INFO|END-INFO|INFO-DIR)")
_ROFF_COMMENT = re.compile(r"^['.]\\\".*$", re.M)
_ROFF_REQUEST = re.compile(r"^[.'][ \t]*[A-Za-z]{1,3}\b[ \t]*", re.M)
_ROFF_ESCAPES = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\s[+-]?\d|\\\(..|\\\*(?:\(..|.)|\\[&|^c%]")
_POD_CODES = re.compile(r"[BICFLSXEZ]<+([^<>]*)>+")


def _read(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def _sources() -> Iterator[tuple[Path, str]]:
    """(path, kind) of every source file, in a stable order."""
    for path in sorted(_INFO.glob("*.info*")):
        yield path, "info"
    for root in _PERL:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".pod", ".pm") and path.is_file():
                yield path, "pod"
    for path in sorted(_LICENCES.iterdir()):
        if path.is_file() and not path.is_symlink():
            yield path, "text"
    for section in _MAN_SECTIONS:
        for path in sorted((_MAN / section).glob("*.gz")):
            yield path, "roff"


def check_sources(paths: list[Path]) -> None:
    """Raise if a source is in the clean-prose evaluation or held back."""
    for path in paths:
        if any(path.is_relative_to(f) for f in _FORBIDDEN) or _HELD_BACK.search(str(path)):
            raise ValueError(f"{path} is evaluation or held-back text: not for training")


def _paragraphs(text: str, kind: str) -> Iterator[str]:
    if kind == "roff":
        text = _ROFF_ESCAPES.sub("", _ROFF_REQUEST.sub("", _ROFF_COMMENT.sub("", text)))
        text = text.replace("\\-", "-").replace("\\e", "\\").replace('"', "")
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines or any(
            _EMAIL.search(ln) or _URL.search(ln) or _CREDIT.search(ln) for ln in lines
        ):
            continue
        if kind == "info" and any(_TEXINFO.match(ln) for ln in lines):
            continue
        if kind == "pod":
            if lines[0].startswith("=") or lines[0].startswith((" ", "\t")):
                continue  # POD commands and verbatim (code) paragraphs
            lines = _POD_CODES.sub(r"\1", "\n".join(lines)).splitlines()
        if all(ln.startswith((" ", "\t")) for ln in lines) and kind != "info":
            continue  # code
        yield " ".join(ln.strip() for ln in lines)


def sentences(*, max_sentences: int) -> list[str]:
    """Clean real sentences (4-60 words, letters mostly), at most 200 a source, in a
    stable order (by a hash of the source's path)."""
    from leakguard.pii.name_gate import lexicon_names

    sources = sorted(_sources(), key=lambda s: hashlib.sha256(str(s[0]).encode()).digest())
    check_sources([p for p, _ in sources])
    finder = _debian_finder()
    out: list[str] = []
    for path, kind in sources:
        if len(out) >= max_sentences:
            break
        try:
            text = _read(path)
        except (OSError, EOFError):
            continue
        if kind == "pod" and "\n=head" not in text:
            continue  # a module without documentation
        taken = 0
        for paragraph in _paragraphs(text, kind):
            for sentence in _SENTENCE_END.split(paragraph):
                words = sentence.split()
                letters = sum(c.isalpha() for c in sentence)
                if not 4 <= len(words) <= 60 or letters < 0.6 * len(sentence):
                    continue
                if lexicon_names(sentence) or finder.search(sentence):
                    continue
                out.append(sentence)
                taken += 1
            if taken >= 200:
                break
    return out[:max_sentences]


def lower_words(*, min_count: int = 2) -> set[str]:
    """Words written in lower case mid-sentence at least ``min_count`` times in the sources
    above and in the *dev* half of the clean-prose evaluation: the English (and technical)
    vocabulary of real prose."""
    from collections import Counter

    from leakguard.evaluation.real_text import clean_prose

    counts: Counter[str] = Counter()
    texts = [p for path, kind in _sources() for p in _paragraphs(_safe_read(path), kind)]
    texts += [d.text for d in clean_prose("dev", max_words=200_000)]
    for text in texts:
        counts.update(re.findall(r"(?<=[a-z,;] )([a-z]{2,})(?=[ ,.;:])", text))
    return {w for w, n in counts.items() if n >= min_count}


def _safe_read(path: Path) -> str:
    try:
        return _read(path)
    except (OSError, EOFError):
        return ""


def _debian_finder() -> re.Pattern[str]:
    names = sorted(debian_name_list(), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


def silver_lines(*, max_lines: int) -> list[LabelledText]:
    """Changelog body lines of the dev half of the packages that hold a listed name."""
    finder = _debian_finder()
    out: list[LabelledText] = []
    for path in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz")):
        if part_of(str(path.parent)) != "dev" or _HELD_BACK.search(str(path)):
            continue
        taken = 0
        for line in _read(path).splitlines():
            if line.startswith(" -- ") or not line.strip() or taken >= 5:
                continue
            spans = tuple(Span(m.start(), m.end(), "PERSON") for m in finder.finditer(line))
            if spans and not _EMAIL.search(line):
                out.append(LabelledText(line.strip("\n"), spans))
                taken += 1
        if len(out) >= max_lines:
            break
    return out[:max_lines]


if __name__ == "__main__":
    found = sentences(max_sentences=int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    print(len(found))
    for s in found[:: max(1, len(found) // 40)]:
        print("-", s)
    silver = silver_lines(max_lines=2000)
    print(len(silver))
