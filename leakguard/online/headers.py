"""Response headers: every one that reaches the client is scanned or structural.

A model server (or the app behind the middleware) can put anything in a header
(``x-user-email: jane@…``), so the header list of every response, whatever its status
(1xx, 204, 304 and ``HEAD`` answers included), goes through :func:`guard_headers` before
the response starts:

1. **Connection-specific headers are dropped** (RFC 9110 §7.6.1): the hop-by-hop ones
   (:data:`HOP_BY_HOP`) and every header the response's own ``Connection`` field names.
   The middleware keeps a bare ``connection: close`` (the ASGI server honours it).
2. **Structural headers** are kept unscanned when their value has the exact grammar of
   :data:`STRUCTURAL` (``content-type: application/json``, an HTTP date, a count, an
   OpenAI rate-limit figure...); a value of another form is scanned like any other
   header. The grammars admit no value the detectors would flag (property-tested).
3. **Every other header** (unknown names included) is scanned as a ``name: value`` line
   (the name is context for the recognizers, and is itself scanned), all lines of one
   response in one scan off the event loop, with the same detectors and policy as the
   body. A finding redacts the value (``online.header_findings: redact``) or drops the
   header (``drop``); a block action blocks the response; a name with a finding drops its
   header. Each finding's evidence names its header (``details["header"]``) and holds no
   value.

Trailers are not headers of the response: the proxy's transport and the middleware drop
them (they would arrive after the body was released).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leakguard.events import FindingEvidence, context_snippet
from leakguard.findings import Finding
from leakguard.online.scan_threads import ScanTimedOut

if TYPE_CHECKING:
    from leakguard.online.responder import Responder

__all__ = [
    "HOP_BY_HOP",
    "STRUCTURAL",
    "HeaderList",
    "connection_specific",
    "guard_headers",
    "is_structural",
]

logger = logging.getLogger("leakguard.middleware")

HeaderList = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1 (and RFC 9112 §9.6): meaningful for one connection only.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


def _list_of(words: bytes, *, most: int = 32) -> bytes:
    """A comma-separated list of ``words`` (an alternation), case-insensitive."""
    item = rb"(?i:" + words + rb")"
    return item + rb"(?:[ \t]*,[ \t]*" + item + rb"){0,%d}" % (most - 1)


# Fixed vocabularies, not any token: a list of free words can hold a name ("Jane", found
# by the property test of the allow-list in an Allow header of random tokens).
_HEADER_NAMES = _list_of(
    rb"accept|accept-encoding|accept-language|authorization|cache-control|content-encoding"
    rb"|content-length|content-type|cookie|origin|user-agent|x-request-id|x-requested-with"
    rb"|openai-organization|openai-processing-ms|openai-version|openai-model"
    rb"|x-ratelimit-(?:limit|remaining|reset)-(?:requests|tokens)"
)
_METHODS = _list_of(rb"GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS", most=7)
# No leading zero and at most 8 digits: no card, phone or social security number fits (the
# property test of the allow-list found phone numbers in 10 digits and in 7 with leading
# zeros, an SSN in a 9-digit max-age).
_COUNT = rb"(?:0|[1-9][0-9]{0,7})"
_DURATION = rb"(?:[0-9]{1,4}h)?(?:[0-9]{1,4}m)?(?:[0-9]{1,4}(?:\.[0-9]{1,3})?s)?(?:[0-9]{1,4}ms)?"
_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# IMF-fixdate (RFC 9110 §5.6.7) with real days, years and times only: the NER reads
# "53 Oct 8419" as a street address (found by the property test with the shipped model).
_HTTP_DATE = (
    _DAY
    + rb", (?:0[1-9]|[12][0-9]|3[01]) "
    + _MONTH
    + rb" (?:19[7-9][0-9]|20[0-9][0-9]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] GMT"
)
_DIRECTIVES = _list_of(
    rb"(?:max-age|s-maxage|stale-while-revalidate|stale-if-error)="
    + _COUNT
    + rb"|no-cache|no-store|no-transform|must-revalidate|proxy-revalidate|must-understand"
    rb"|private|public|immutable",
    most=12,
)

# Header name -> the only values kept unscanned (RFC 9110 grammars, narrowed: a value
# outside them is scanned, not refused; white space is spaces and tabs, RFC 9110 §5.6.3).
# Kept short and exact; see the README.
STRUCTURAL: dict[bytes, re.Pattern[bytes]] = {
    name: re.compile(grammar, re.ASCII)
    for name, grammar in {
        b"content-type": rb"[a-z]{1,16}/[a-z0-9.+-]{1,64}"
        rb"(?:[ \t]*;[ \t]*charset=(?:utf-8|UTF-8|us-ascii|iso-8859-1))?"
        rb"(?:[ \t]*;[ \t]*version=[0-9]{1,2}(?:\.[0-9]{1,2}){0,2})?",
        b"content-length": _COUNT,
        b"content-encoding": _list_of(rb"gzip|x-gzip|deflate|br|zstd|compress|identity", most=4),
        b"date": _HTTP_DATE,
        b"expires": _HTTP_DATE + rb"|0",
        b"last-modified": _HTTP_DATE,
        b"cache-control": _DIRECTIVES,
        b"pragma": rb"no-cache",
        b"vary": _HEADER_NAMES + rb"|\*",
        b"allow": _METHODS,
        b"etag": rb'(?:W/)?"(?=[0-9a-f]*[a-f])[0-9a-f]{8,64}"',
        b"accept-ranges": rb"bytes|none",
        b"x-content-type-options": rb"nosniff",
        b"strict-transport-security": rb"max-age=" + _COUNT + rb"(?:;[ \t]*includeSubDomains)?"
        rb"(?:;[ \t]*preload)?",
        b"access-control-allow-origin": rb"\*",
        b"access-control-allow-credentials": rb"true",
        b"access-control-allow-headers": _HEADER_NAMES + rb"|\*",
        b"access-control-allow-methods": _METHODS + rb"|\*",
        b"access-control-expose-headers": _HEADER_NAMES + rb"|\*",
        b"access-control-max-age": _COUNT,
        # OpenAI's own (https://platform.openai.com/docs/guides/rate-limits).
        b"openai-processing-ms": _COUNT,
        b"openai-version": rb"[0-9]{4}-[0-9]{2}-[0-9]{2}",
        b"x-ratelimit-limit-requests": _COUNT,
        b"x-ratelimit-limit-tokens": _COUNT,
        b"x-ratelimit-remaining-requests": _COUNT,
        b"x-ratelimit-remaining-tokens": _COUNT,
        b"x-ratelimit-reset-requests": _DURATION,
        b"x-ratelimit-reset-tokens": _DURATION,
        # Cloudflare, in front of many hosted APIs.
        b"cf-cache-status": rb"DYNAMIC|HIT|MISS|EXPIRED|BYPASS|REVALIDATED|UPDATING|STALE|NONE",
        b"cf-ray": rb"[0-9a-f]{16}-[A-Z]{3}",
    }.items()
}

_SEPARATOR = "\n\n"  # between the lines of one scan (no placeholder holds one)
_WITHHELD = b"\r\n\0"  # never in a header value an HTTP/1.1 server can send


def is_structural(name: bytes, value: bytes) -> bool:
    """Whether a header (lower-case ``name``) is kept unscanned."""
    grammar = STRUCTURAL.get(name)
    return grammar is not None and grammar.fullmatch(value) is not None


def connection_specific(headers: Iterable[tuple[bytes, bytes]]) -> tuple[frozenset[bytes], bool]:
    """The (lower-case) names to drop: :data:`HOP_BY_HOP` and those the ``Connection``
    fields name; and whether ``Connection`` said ``close``."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b","))
    close = b"close" in named
    named.discard(b"")
    return HOP_BY_HOP | named, close


@dataclass(frozen=True, slots=True)
class _Line:
    """One scanned header: its place in the list, lower-case name, text sent to the scan."""

    index: int
    name: str
    text: str


async def guard_headers(r: Responder, headers: Sequence[tuple[bytes, bytes]]) -> HeaderList:
    """The headers of a response as they may leave (see the module docstring). A block
    (policy, scan time-out with ``online.on_failure: block``) is left on ``r.rg``."""
    dropped, close = connection_specific(headers)
    out: HeaderList = []
    lines: list[_Line] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in dropped:
            continue
        if is_structural(lowered, value):
            out.append((lowered, value))
            continue
        if any(c in value for c in _WITHHELD):  # nothing a client may receive
            logger.warning("response %s: a header with a line break dropped", r.log_id)
            continue
        lines.append(_Line(len(out), lowered.decode("latin-1"), _line(lowered, value)))
        out.append((lowered, value))
    if close:
        out.append((b"connection", b"close"))
    if not lines:
        return out  # the common case: no scan at all
    scanned = await _scan(r, lines)
    if scanned is None:
        return out  # unscanned by an explicit on_failure: pass (counted, recorded)
    drop_all = r.online.header_findings == "drop"
    gone: set[int] = set()
    for line, text in zip(lines, scanned, strict=True):
        if text == line.text:
            continue
        prefix = line.name + ": "
        if drop_all or text is None or not text.startswith(prefix):
            gone.add(line.index)  # asked for, or the name itself had a finding
        else:
            out[line.index] = (out[line.index][0], text[len(prefix) :].encode())
    return [h for i, h in enumerate(out) if i not in gone]


def _line(name: bytes, value: bytes) -> str:
    # Header values are octets; latin-1 keeps each byte one character (RFC 9110 §5.5),
    # and UTF-8 sent raw by an app is read as the text it is.
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return f"{name.decode('latin-1')}: {text}"


async def _scan(r: Responder, lines: list[_Line]) -> list[str | None] | None:
    """All lines in one scan in a worker thread; per line its guarded text (``None``:
    drop it). ``None`` for all when a time-out let them pass unscanned."""
    rg = r.rg
    joined = _SEPARATOR.join(line.text for line in lines)
    before = len(rg.evidence)
    try:
        text = await r.mw.run_scan(
            lambda: rg.scan_whole(("headers",), joined), r.online.scan_timeout_s
        )
    except ScanTimedOut:
        logger.warning("scan of response %s's headers timed out", r.log_id)
        if r.online.on_failure == "block":
            r.mw.metrics.fail_closed.inc("scan_timeout")
            rg.block("scan_timeout")
            rg.fully_scanned = False
            return [None] * len(lines)
        r.mw.metrics.passed_unscanned.inc("scan_timeout")
        r.scans.passed_unscanned = True
        return None
    if rg.blocked:
        return [None] * len(lines)
    spans = _spans(lines)
    new = rg.evidence[before:]
    owners = [_owner(spans, e.finding) for e in new]
    guarded: list[str | None] = list(text.split(_SEPARATOR))
    if len(guarded) != len(lines):
        # A finding ran across two lines: where each line's text ends is unknown, so
        # every header with a finding is dropped.
        guarded = [None if i in owners else line.text for i, line in enumerate(lines)]
    # Each new piece of evidence names its header, with offsets and a context snippet
    # of that header's own line (never a neighbour's text).
    local = [_local(e.finding, spans[i]) for e, i in zip(new, owners, strict=True)]
    named = []
    for n, (evidence, i) in enumerate(zip(new, owners, strict=True)):
        line = lines[i]
        mine = [j for j, owner in enumerate(owners) if owner == i]
        in_name = any(local[j].start < len(line.name) for j in mine)
        details = {**evidence.finding.details, "header": "<withheld>" if in_name else line.name}
        finding = dataclasses.replace(local[n], details=details)
        context = context_snippet(line.text, [local[j] for j in mine], mine.index(n))
        named.append(FindingEvidence(finding, evidence.value, context))
    rg.evidence[before:] = named
    return guarded


def _spans(lines: list[_Line]) -> list[tuple[int, int]]:
    """Where each line lies in the joined text."""
    spans, at = [], 0
    for line in lines:
        spans.append((at, at + len(line.text)))
        at += len(line.text) + len(_SEPARATOR)
    return spans


def _owner(spans: list[tuple[int, int]], finding: Finding) -> int:
    """The line a finding starts in."""
    return next((i for i, (_, hi) in enumerate(spans) if finding.start < hi), len(spans) - 1)


def _local(finding: Finding, span: tuple[int, int]) -> Finding:
    lo, hi = span
    return finding.moved(max(finding.start, lo) - lo, max(min(finding.end, hi), lo + 1) - lo)
