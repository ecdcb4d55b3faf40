"""One request path for the route rules and the app behind them.

Route rules are matched on the path the app (or the proxy's upstream) will act on, so
the path is normalised once, before both: dot segments are removed (RFC 3986 §5.2.4),
and the normalised path replaces ``path`` and ``raw_path`` in the scope the app sees.
A segment that is a dot segment only once percent-decoded (``%2e%2e``, ``.%2E``) is
ambiguous: servers disagree on it, so the request is refused (400), never guessed at.
Nothing above ``/`` can be reached, so the proxy's upstream base path is a boundary.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

__all__ = ["AmbiguousPath", "normalise_scope", "remove_dot_segments"]

_ENCODED_DOT = re.compile(rb"^(?:\.|%2e)+$", re.IGNORECASE)


class AmbiguousPath(ValueError):
    """A path with a percent-encoded dot segment."""


def remove_dot_segments(raw: bytes, *, encoded: bool = True) -> bytes:
    """``raw`` (an absolute path) without ``.`` and ``..`` segments; ``..`` at the root
    stays at the root. :class:`AmbiguousPath` for an encoded dot segment (``encoded``:
    ``raw`` is still percent-encoded)."""
    segments = raw.split(b"/")[1:]
    out: list[bytes] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment in (b".", b".."):
            if segment == b".." and out:
                out.pop()
            if last:
                out.append(b"")  # "/a/b/.." is "/a/", as in RFC 3986
            continue
        if encoded and b"%" in segment and _ENCODED_DOT.match(segment):
            raise AmbiguousPath("a percent-encoded dot segment in the path")
        out.append(segment)
    return b"/" + b"/".join(out)


def normalise_scope(scope: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The scope with its path normalised (the same object when nothing changed)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    raw_path, sep, query = raw.partition(b"?")
    if b"." not in raw_path and b"%" not in raw_path:
        return scope  # the common case: nothing to do
    clean = remove_dot_segments(raw_path)
    if clean == raw_path:
        return scope
    path = scope["path"]
    decoded = remove_dot_segments(path.encode("utf-8", "surrogateescape"), encoded=False).decode(
        "utf-8", "surrogateescape"
    )
    return {**scope, "path": decoded, "raw_path": clean + sep + query}
