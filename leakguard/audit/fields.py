"""What the redaction log and the log lines keep of strings a client or an upstream chose.

A request's path, the model it names, its request id and the upstream's content type reach
the record and the warning lines, and any of them can carry someone's data
(``/v1/users/jane@example.com/chat/completions``, ``ft:gpt-4o:jane@example.com:x``, an
``X-Request-ID`` holding an SSN). These functions are cheap (no detector runs: they sit on
every response's path) and conservative; each is idempotent, so a value passed twice
stays the same. Per field (the README's "Redaction log" lists them too):

* **route**: the path, segment by segment. A segment is kept when it is shaped like API
  vocabulary or an id (``v1``, ``chat``, ``file-abc123``) and is not a person's name; an
  e-mail address becomes ``<EMAIL_ADDRESS>``, an SSN-shaped number ``<US_SSN>``, another
  long number (a phone, a card, an account) ``<NUMBER>``, a name ``<PERSON>``, anything
  else (spaces, other characters, over 64 characters) ``<SEGMENT>``.
* **model**: the same per ``/``- or ``:``-separated part; one lower-case word that is also
  a given name (``gemma``, ``nova``) stays a model name, two names (``jane-doe``) do not.
* **request id**: kept when it looks like an id (a UUID, hex, or a short token with no
  e-mail, long number or name in it), else ``fp:`` and its keyed fingerprint.
* **content type**: ``type/subtype`` when both are lower-case tokens, else ``<CONTENT_TYPE>``;
  a content encoding likewise (``<CONTENT_ENCODING>``).
"""

from __future__ import annotations

import re
import secrets

from leakguard.audit.chain import AuditKey
from leakguard.pii.name_gate import lexicon_name

__all__ = [
    "recorded_coding",
    "recorded_content_type",
    "recorded_model",
    "recorded_request_id",
    "recorded_route",
    "throwaway_key",
    "warm_up",
]

_MAX_PART = 64
_PLACEHOLDER = re.compile(r"^<[A-Z][A-Z_]*>$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~+-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
# A number a person may own: 7+ digits, with at most one space, dot or hyphen between two.
_NUMBER_RUN = re.compile(r"\d(?:[ .-]?\d){6,}")
_DATE = re.compile(r"(?<!\d)(?:19|20)\d\d-?[01]\d-?[0-3]\d(?!\d)")  # ids often hold one
_WORDS = re.compile(r"[^\W\d_]+")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^(?=.*[a-fA-F])[0-9a-fA-F]{16,128}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_FINGERPRINT = re.compile(r"^fp:[0-9a-f]{16}$")
_MEDIA_TOKEN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


def _number_kind(text: str) -> str | None:
    """``US_SSN`` or ``NUMBER`` when ``text`` holds a number a person may own."""
    if _SSN.search(text):
        return "US_SSN"
    return "NUMBER" if _NUMBER_RUN.search(_DATE.sub("_", text)) else None


def _is_name(part: str, *, lone_names: bool) -> bool:
    """A given or family name of the lexicons ("jane", "jane-doe"; not "will")."""
    words = _WORDS.findall(part)
    if len(words) == 1 and not lone_names:
        return False  # a model called "gemma" or "nova"
    return lexicon_name(words)


def _part(part: str, *, lone_names: bool) -> str:
    """One path segment or model-name part, kept or replaced by its placeholder."""
    if not part or _PLACEHOLDER.match(part):
        return part
    if "@" in part:
        return "<EMAIL_ADDRESS>" if _EMAIL.match(part) else "<SEGMENT>"
    kind = _number_kind(part)
    if kind is not None:
        return f"<{kind}>"
    if len(part) > _MAX_PART or not _PART.match(part):
        return "<SEGMENT>"
    if _is_name(part, lone_names=lone_names):
        return "<PERSON>"
    return part


def recorded_route(path: str | None) -> str | None:
    """The request path as the record and the log lines keep it."""
    if path is None:
        return None
    return "/".join(_part(segment, lone_names=True) for segment in path.split("/"))


def recorded_model(model: str | None) -> str | None:
    """The model name as the record keeps it (``ft:gpt-4o:<EMAIL_ADDRESS>:x``)."""
    if model is None:
        return None
    parts = re.split(r"([/:])", model)  # keep the separators
    return "".join(p if p in "/:" else _part(p, lone_names=False) for p in parts)


def recorded_request_id(value: str, key: AuditKey) -> str:
    """The request id when it looks like one, else ``fp:`` + its keyed fingerprint."""
    if _UUID.match(value) or _HEX.match(value) or _FINGERPRINT.match(value):
        return value
    plain = (
        _ID.match(value) is not None
        and _number_kind(value) is None
        and not any(_is_name(p, lone_names=True) for p in re.split(r"[:]", value))
    )
    return value if plain else f"fp:{key.fingerprint('REQUEST_ID', value)}"


def recorded_content_type(value: str | None) -> str:
    """A content type for a log line: ``type/subtype`` tokens, or a placeholder."""
    if not value:
        return "missing"
    kind, _, sub = value.partition("/")
    tokens = _MEDIA_TOKEN.match(kind) and _MEDIA_TOKEN.match(sub)
    return value if tokens and _number_kind(value) is None else "<CONTENT_TYPE>"


def recorded_coding(value: str) -> str:
    """A content-encoding list for an error message: its tokens, or a placeholder."""
    tokens = [t.strip() for t in value.split(",")]
    plain = all(_MEDIA_TOKEN.match(t) for t in tokens) and _number_kind(value) is None
    return value if plain else "<CONTENT_ENCODING>"


def throwaway_key() -> AuditKey:
    """A key for fingerprints that only need to match within this process (log lines
    when no audit key is configured): nobody, not even the operator, can invert them."""
    return AuditKey(secrets.token_bytes(32))


def warm_up() -> None:
    """Load the name lexicons now (about a second, once per process), not on the event
    loop at the first request whose path or id has a word in it."""
    lexicon_name(["warm"])
