"""A normalised view of a text, for finding values written so that patterns miss them.

``deobfuscate(text)`` returns a :class:`Deobfuscated` view: the text with obfuscations undone
(``jane [at] example [dot] com`` → ``jane@example.com``, full-width ``4111`` → ``4111``, zero-width
characters removed, ...) and a sparse edit list that maps every span of the normalised text
back to the original. The PII detector runs on the normalised text and reports findings on
the original text (:meth:`Deobfuscated.restore`): a finding covers the whole obfuscated
original, separators, brackets and invisible characters included, so redaction stays exact.
This is the one place where a detector does not read the original text; nothing else
rewrites text before detection (DESIGN.md, "The core pipeline").

What is undone (each edit names its form, which the finding reports as ``obfuscation``):

* ``invisible``: zero-width spaces and joiners, word joiners, soft hyphens, bidi controls;
* ``digits``: decimal digits of any script (Arabic-Indic, Devanagari, full-width, ...);
* ``fullwidth``: full-width ASCII (U+FF20 at, U+FF0E full stop, letters), small and
  ideographic full stops between letters or digits, the small commercial at;
* ``dashes``: Unicode hyphens, dashes and minus signs between digits;
* ``spaces``: no-break, thin, figure and other Unicode spaces beside a digit;
* ``entities``: ``&#64;``, ``&#x40;``, ``&commat;``, ``%40`` (and the ``.`` entities);
* ``at_dot``: ``[at]``, ``(at)``, ``{at}``, ``[@]``, ``[dot]``, ``(dot)``, ``[.]``; the
  bare words ``at`` and ``dot`` only inside an e-mail shape whose domain is written with
  ``dot``/``[dot]``, or whose local part is e-mail-like (a ``.``, ``_``, ``+``, ``-`` or
  digit beside letters): "look at example.com" stays as it is;
* ``email_spaces``: spaces around ``@`` or before a dot of the domain (``@acme-corp .com``);
* ``defang``: ``203[.]0[.]113[.]77``, ``hxxp://``, ``[:]//``;
* ``dotted_card``: card-length digit groups joined by ``.``, ``/`` or ``_``;
* ``table_card``: 13 to 19 digits spread over the cells of one markdown table row, when the
  rows next to it are not rows of numbers too;
* ``spaced_key``: AWS access key IDs with spaces, dashes or dots between their characters;
* ``spaced_digits``: 13 to 19 single digits separated by single spaces;
* ``digit_words``: seven or more digits spelled out as words ("four one one one ...").

Whether a normalised value is a finding is still the recognizers' call (checksums, issuer
ranges, public suffixes): a rewrite alone never makes one.

Each pass first runs a cheap gate (``str.isascii``, substring searches, or a regex that
starts with a literal): text that no gate opens costs a few microseconds per thousand
characters and is its own view.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leakguard.findings import Finding
from leakguard.pii.deobfuscate_rules import PASSES, RawEdit

__all__ = ["OBFUSCATION_KEY", "Deobfuscated", "Edit", "deobfuscate"]

# The key of Finding.details that names the forms a finding was found through.
OBFUSCATION_KEY = "obfuscation"


@dataclass(frozen=True, slots=True)
class Edit:
    """``original[start:end]`` reads ``text`` in the normalised view; ``form`` says why."""

    start: int
    end: int
    text: str
    form: str


@dataclass(frozen=True, slots=True, eq=False)
class Deobfuscated:
    """A text and its normalised view. ``edits`` are sorted and never overlap; between
    them the two texts are the same. ``starts`` holds where each edit begins in the
    normalised text (searched with :mod:`bisect`)."""

    original: str
    text: str
    edits: tuple[Edit, ...] = ()
    starts: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.edits)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised ``start:end``: a span that touches an edit
        covers all of the edit's original text."""
        return self._origin(start, start=True), self._origin(end, start=False)

    def _origin(self, pos: int, *, start: bool) -> int:
        # A start at an edit's normalised position belongs to that edit (a deletion there
        # is skipped); an end at it belongs to the text before.
        i = (bisect.bisect_right if start else bisect.bisect_left)(self.starts, pos) - 1
        if i < 0:
            return pos
        edit = self.edits[i]
        norm_end = self.starts[i] + len(edit.text)
        if pos < norm_end or (not start and pos == norm_end):
            return edit.start if start else edit.end
        return edit.end + (pos - norm_end)

    def forms(self, start: int, end: int) -> list[str]:
        """The forms of the edits inside original ``start:end``, each once, sorted."""
        names = {
            name
            for e in self.edits
            if e.start < end and start < e.end
            for name in e.form.split("+")
        }
        return sorted(names)

    def restore(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings on the normalised text, moved onto the original text; one that covers
        a rewrite says which forms in ``details["obfuscation"]``."""
        if not self.edits:
            return list(findings)
        out = []
        for f in findings:
            start, end = self.span(f.start, f.end)
            moved = f.moved(start, end)
            forms = self.forms(start, end)
            if forms:
                details = {**f.details, OBFUSCATION_KEY: "+".join(forms)}
                moved = Finding(
                    moved.detector,
                    moved.label,
                    moved.start,
                    moved.end,
                    moved.score,
                    moved.action,
                    moved.replacement,
                    details,
                    moved.members,
                )
            out.append(moved)
        return out


def deobfuscate(text: str) -> Deobfuscated:
    """The normalised view of ``text`` (see the module docstring for what is undone)."""
    view = Deobfuscated(text, text)
    for step in PASSES:
        if step.gate(view.text):
            raw = step.edits(view.text)
            if raw:
                view = _compose(view, raw)
    return view


def _compose(view: Deobfuscated, raw: Sequence[RawEdit]) -> Deobfuscated:
    """``view`` with further edits made on its normalised text, as one edit list on the
    original. New edits whose original spans meet (several inside one older replacement)
    become one edit, and an older edit they touch is taken into it: the merged edit's text
    is the older normalised text with the new edits applied."""
    old = view.edits
    merged: list[Edit] = []
    i = 0
    for group in _groups(view, raw):
        o_start, o_end = view.span(group[0][0], group[-1][1])
        while i < len(old) and old[i].end <= o_start:
            merged.append(old[i])
            i += 1
        n_start, n_end = group[0][0], group[-1][1]
        forms = {form for _, _, _, form in group}
        while i < len(old) and old[i].start < o_end:  # inside o_start..o_end (see span)
            n_start = min(n_start, view.starts[i])
            n_end = max(n_end, view.starts[i] + len(old[i].text))
            forms.update(old[i].form.split("+"))
            i += 1
        parts, pos = [], n_start
        for start, end, repl, _ in group:
            parts += [view.text[pos:start], repl]
            pos = end
        parts.append(view.text[pos:n_end])
        merged.append(Edit(o_start, o_end, "".join(parts), "+".join(sorted(forms))))
    merged.extend(old[i:])
    return _build(view.original, merged)


def _groups(view: Deobfuscated, raw: Sequence[RawEdit]) -> list[list[RawEdit]]:
    """``raw`` (sorted) in runs whose original spans overlap."""
    groups: list[list[RawEdit]] = []
    last_end = -1
    for edit in raw:
        start, end = view.span(edit[0], edit[1])
        if groups and start < last_end:
            groups[-1].append(edit)
        else:
            groups.append([edit])
        last_end = max(last_end, end)
    return groups


def _build(original: str, edits: Sequence[Edit]) -> Deobfuscated:
    parts = []
    starts = []
    pos = 0
    norm = 0
    for edit in edits:
        parts.append(original[pos : edit.start])
        norm += edit.start - pos
        starts.append(norm)
        parts.append(edit.text)
        norm += len(edit.text)
        pos = edit.end
    parts.append(original[pos:])
    return Deobfuscated(original, "".join(parts), tuple(edits), tuple(starts))
