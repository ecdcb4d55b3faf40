"""Tokenize any text in time linear in its length.

spaCy's tokenizer strips prefixes, suffixes and infixes off a whitespace-free piece one at
a time, re-searching what is left each time: a long piece costs time quadratic in its
length, inside one C call that holds the GIL (``"1:" * 10_000``, 20 KB: 3.2 s; 100 KB of
it took 28 s, and every other thread of the process, the event loop's included, waited).

:func:`make_doc` cuts every whitespace-free run longer than :data:`LONG_RUN` characters
into pieces of at most that many characters (counted from the run's start), tokenizes the
pieces one by one and joins the results with ``Doc.from_docs`` without adding whitespace:
the Doc's text is the text, character for character, and every token's offset is its
offset in the text. Only the tokens that cross a cut differ from what the tokenizer would
have made of the whole run (they are cut there too). Text without such a run (prose,
code, most JSON) is tokenized exactly as before, in one call.

The cuts depend only on where each run begins and ends, so a stretch of the text that
begins and ends at whitespace (a context window) is cut at the same places as the whole
text: its tokens are the same.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

__all__ = ["LONG_RUN", "long_run_cuts", "make_doc"]

# The longest whitespace-free piece handed to the tokenizer in one call. Real words,
# e-mail addresses, most URLs are far shorter; at 256 characters a pathological piece
# costs well under a millisecond.
LONG_RUN = 256
_LONG = re.compile(r"\S{" + str(LONG_RUN + 1) + ",}")


def long_run_cuts(text: str) -> list[int]:
    """The offsets at which :func:`make_doc` cuts ``text`` (empty: not cut at all)."""
    cuts: list[int] = []
    for found in _LONG.finditer(text):
        cuts.extend(range(found.start() + LONG_RUN, found.end(), LONG_RUN))
    return cuts


def make_doc(nlp: Any, text: str) -> Any:
    """``nlp.make_doc(text)``, with long whitespace-free runs tokenized piece by piece."""
    cuts = long_run_cuts(text)
    if not cuts:
        return nlp.make_doc(text)
    from spacy.tokens import Doc

    bounds = [0, *cuts, len(text)]
    docs = [nlp.make_doc(text[a:b]) for a, b in itertools.pairwise(bounds)]
    doc = Doc.from_docs(docs, ensure_whitespace=False)
    if doc.text != text:  # a spaCy that joins otherwise: never hand on shifted offsets
        raise RuntimeError("spaCy's Doc.from_docs changed the text it joined")
    return doc
