# ruff: noqa: RUF001  (look-alike letters are the point of this module)
"""Normalization and lexing shared by the index builder and the memorization detector.

Both sides call this module and nothing else, so an indexed text and a scanned text can
never be cut into lexemes differently. Any change to the rules below must bump
:data:`NORMALIZATION_VERSION`: every index records the version it was built with, and
opening an index of another version is an error that names the rebuild command.

The rules (version 1), applied to each character on its own:

1. Format characters (Unicode category ``Cf``: zero-width space/joiners, soft hyphen, BOM,
   bidi marks) and non-spacing/enclosing combining marks (``Mn``, ``Me``) are removed: the
   letters on both sides join, so ``pass\\u200bword`` reads ``password``, ``cafe\\u0301``
   reads ``cafe``.
2. Compatibility decomposition (NFKD: full-width, ligatures, super/subscripts, math
   letters, …), then combining marks dropped. Anything NFKC-equal therefore lexes the same.
3. Common look-alike letters (Cyrillic, Greek and a few Latin ones, :data:`LOOKALIKES`)
   fold to the Latin letter they imitate; then Unicode case folding.
4. Letters, digits and spacing marks make words; every other character (punctuation,
   symbols, whitespace, controls) separates words. Han, kana and other scripts written
   without spaces make one lexeme per character.

Because the mapping is per character, a lexeme's offsets in the original text are exact
(``starts``/``ends`` are ``str`` indices of the text passed in), and feeding a text in
pieces lexes it exactly as a whole, provided a piece's unfinished last word is carried over
(see :meth:`Lexemes.complete_before`).

Unicode data comes from Python's ``unicodedata``; its version (:data:`UNICODE_VERSION`) is
recorded in every index too, since new assignments can change what a character maps to.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "LOOKALIKES",
    "NORMALIZATION_VERSION",
    "UNICODE_VERSION",
    "Lexemes",
    "lex",
    "lexemes",
    "normalize_char",
    "normalized",
]

NORMALIZATION_VERSION = 1
UNICODE_VERSION = unicodedata.unidata_version

# Folded before case folding, so upper-case look-alikes map to upper-case Latin letters.
LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Ӏ": "I",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y",
    "к": "k", "м": "m", "т": "t", "в": "b", "н": "h", "ь": "b", "г": "r",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "υ": "u",
    "χ": "x", "ε": "e", "β": "b", "η": "n", "ϲ": "c", "ϳ": "j",
    # Latin letters from other blocks that pass for plain ones
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ʏ": "y", "ɪ": "i", "ʜ": "h", "ɴ": "n",
}  # fmt: skip

_SEPARATOR = " "
_GLUE = "\x00"  # a removed character, kept as a placeholder so offsets stay 1:1
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Mc"})
_REMOVED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_WORD_RE = re.compile(r"[^ ]+")
_SMALL_TEXT = 256  # below this many characters the regex path beats numpy's fixed costs


def _solo(char: str) -> bool:
    """Scripts written without spaces: each character is a lexeme of its own."""
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "CJK COMPATIBILITY", "THAI"))


def normalize_char(char: str) -> str:
    """The normalized form of one character: ``' '`` separates, ``''`` is removed."""
    if unicodedata.category(char) in _REMOVED_CATEGORIES:
        return ""
    char = LOOKALIKES.get(char, char)
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.category(part) in _REMOVED_CATEGORIES:
            continue
        for folded in LOOKALIKES.get(part, part).casefold():
            if unicodedata.category(folded) not in _WORD_CATEGORIES:
                out.append(_SEPARATOR)
            elif _solo(folded):
                out.append(f" {folded} ")
            else:
                out.append(folded)
    return "".join(out)


class _Table(dict[int, str]):
    """``str.translate`` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        mapped = normalize_char(chr(code))
        value = _GLUE if mapped == "" else mapped
        if len(self) < 200_000:  # bounded: at most the characters actually seen
            self[code] = value
        return value


_TABLE = _Table()
for _code in range(128):
    _TABLE[_code]  # pre-fill ASCII for str.translate's fast path


def normalized(text: str) -> str:
    """``text`` normalized: lexemes separated by runs of spaces (and nothing else)."""
    norm = text.translate(_TABLE)
    return norm.replace(_GLUE, "") if _GLUE in norm else norm


def lexemes(text: str) -> list[str]:
    """The normalized lexemes of ``text``: ``normalized(text).split()``."""
    return normalized(text).split()


IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Lexemes:
    """Lexemes of a text with their exact spans: ``text[starts[i]:ends[i]]`` is word ``i``."""

    words: list[str]
    starts: IntArray
    ends: IntArray
    # Where the text's unfinished tail begins: the characters after the last separator
    # (the text's length when it ends with one). When more text may follow, the lexeme
    # starting there is not final yet; a streaming caller carries ``text[tail_start:]``.
    tail_start: int

    def __len__(self) -> int:
        return len(self.words)


def lex(text: str) -> Lexemes:
    """Lexemes of ``text`` with their character offsets in ``text``."""
    norm = text.translate(_TABLE)
    src: IntArray | None = None  # None: norm index == text index
    if len(norm) != len(text):  # some characters expanded (ligatures, CJK): map back per char
        pieces = [_TABLE[ord(c)] for c in text]
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        src = np.repeat(np.arange(len(text), dtype=np.int64), lengths)
    if len(norm) < _SMALL_TEXT:
        spans = [m.span() for m in _WORD_RE.finditer(norm)]
        words = [norm[a:b] for a, b in spans]
        starts = np.fromiter((a for a, _ in spans), dtype=np.int64, count=len(spans))
        ends = np.fromiter((b for _, b in spans), dtype=np.int64, count=len(spans))
    else:
        words = norm.split()
        code = np.frombuffer(norm.encode("utf-32-le"), dtype="<u4")
        word_chars = (code != 32).view(np.int8)
        edges = np.diff(word_chars, prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
    tail = norm.rfind(_SEPARATOR) + 1
    if src is not None:
        # A lexeme spans the original characters that produced its first and last letters.
        starts = src[starts]
        ends = src[ends - 1] + 1
        tail = int(src[tail]) if tail < len(norm) else len(text)
    if _GLUE in norm:
        words, starts, ends = _drop_glue(words, starts, ends)
    return Lexemes(words, starts.astype(np.int64), ends.astype(np.int64), tail)


def _drop_glue(
    words: list[str], starts: IntArray, ends: IntArray
) -> tuple[list[str], IntArray, IntArray]:
    cleaned = [w.replace(_GLUE, "") for w in words]
    keep = np.fromiter(map(bool, cleaned), dtype=bool, count=len(cleaned))
    if keep.all():
        return cleaned, starts, ends
    return [w for w in cleaned if w], starts[keep], ends[keep]


def has_separator(text: str) -> bool:
    """Whether ``text`` ends a word somewhere (a streaming caller may lex up to there)."""
    return _SEPARATOR in text.translate(_TABLE)


def complete_lexemes(text: str) -> tuple[list[tuple[str, int, int]], int]:
    """The lexemes of ``text`` that are final however the text goes on, and where the rest begins.

    Returns ``[(word, start, end), ...]`` for every lexeme followed by a separator, and the
    offset of the unfinished tail (:attr:`Lexemes.tail_start`). Same lexemes and offsets as
    :func:`lex`; cheaper for the short pieces of a stream.
    """
    norm = text.translate(_TABLE)
    if len(norm) != len(text) or len(norm) >= _SMALL_TEXT:
        lexed = lex(text)
        tail = lexed.tail_start
        return [
            (w, a, b)
            for w, a, b in zip(lexed.words, lexed.starts.tolist(), lexed.ends.tolist(), strict=True)
            if a < tail
        ], tail
    tail = norm.rfind(_SEPARATOR) + 1
    out = []
    for match in _WORD_RE.finditer(norm, 0, tail):
        word = match.group()
        if _GLUE in word:
            word = word.replace(_GLUE, "")
            if not word:
                continue
        out.append((word, match.start(), match.end()))
    return out, tail
