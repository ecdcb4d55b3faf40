"""Labelled texts written by hand in a light markup, one text per line.

``[[Aoife Byrne]]`` marks a person's name; ``[[EMAIL_ADDRESS:ana@example.org]]`` (any
upper-case label and a colon) marks another kind of value. ``\\n`` in a line is a line
break, ``\\t`` a tab; a line starting with ``#`` is a comment; blank lines are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from leakguard.evaluation.scoring import LabelledText, Span
from leakguard.exceptions import DatasetError

__all__ = ["load_markup", "parse_markup"]

_MARK = re.compile(r"\[\[(?:(?P<label>[A-Z_]+):)?(?P<value>[^\[\]]+)\]\]")


def parse_markup(line: str) -> LabelledText:
    """One marked-up line as a text and its spans."""
    line = line.replace("\\n", "\n").replace("\\t", "\t")
    parts, spans, at, offset = [], [], 0, 0
    for match in _MARK.finditer(line):
        parts.append(line[at : match.start()])
        offset += match.start() - at
        value = match["value"]
        spans.append(Span(offset, offset + len(value), match["label"] or "PERSON"))
        parts.append(value)
        offset += len(value)
        at = match.end()
    parts.append(line[at:])
    text = "".join(parts)
    if "[[" in text or "]]" in text:
        raise ValueError("unbalanced [[ ]] in a marked-up line")
    return LabelledText(text=text, spans=tuple(spans))


def load_markup(path: str | Path) -> list[LabelledText]:
    """Every text of a marked-up file; a bad line raises DatasetError naming it."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            items.append(parse_markup(line))
        except ValueError as exc:
            raise DatasetError(str(path), number, str(exc)) from None
    return items
