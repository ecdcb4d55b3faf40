"""Every value of a response object outside its channels: walked, allow-listed, scanned.

A :class:`~leakguard.online.shapes.Shape` names the *channels* of an object (the model's
text, guarded with the streaming hold-back). Everything else in the object is walked here
(issue 20's rule: every string and number that reaches the client is scanned, or the
response takes the unscannable action):

- every string, and every number as its JSON text (``4111111111111111``), is scanned as a
  short whole value, each distinct value once per response;
- every object key is scanned, unless it is one of the field names of the APIs the shapes
  know (:data:`SCHEMA_KEYS`: exact words such as ``content`` or ``finish_reason``, which
  are never personal data);
- the only values kept unscanned are at the paths of the shape's allow-list (ids, object
  types, the model name, timestamps, indices, finish reasons, roles, usage counts), and
  only when they look like what the path holds: an id (words of letters joined by
  ``_.:-``, then one run of letters and digits, or a UUID), a lower-case word without
  digits, a count below 10^12. A value that does not look the part is scanned like any
  other.

A finding in a value redacts it in place (a number becomes the placeholder string, a key
is renamed) or blocks, as the policy says. The walk is one pass over the decoded object
and the usual event (a chat chunk, a Responses delta) has no value to scan, so it costs
no scan at all.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from leakguard.online.scanning import Scans
    from leakguard.online.shapes import Frame, Shape

__all__ = [
    "CHAT_ALLOW",
    "COMPLETIONS_ALLOW",
    "COUNT",
    "DURATION",
    "ERROR_ALLOW",
    "ID",
    "MODEL",
    "NUMBER",
    "OLLAMA_ALLOW",
    "RESPONSES_ALLOW",
    "SCHEMA_KEYS",
    "TIMESTAMP",
    "WORD",
    "Allow",
    "Loose",
    "ValueGuard",
    "counts",
    "loose_values",
]

Keep = Callable[[Any], bool]
# An allow-list: a key (``*``: any list item) maps to a deeper allow-list, or to the test
# a value at that path must pass to be kept unscanned.
Allow = Mapping[str, Union["Allow", Keep]]

# An id: words of letters, each followed by one of ``_.:-``, then one run of letters and
# digits or a UUID ("chatcmpl-B9MHDb", "call_0", "chatcmpl-tool-9f..."): no run of
# digit groups ("chatcmpl-536-90-4512" is scanned).
_ID = re.compile(
    r"(?=.{1,128}\Z)(?:[A-Za-z]+[_.:-])*"
    r"(?:[A-Za-z0-9]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_WORD = re.compile(r"[a-z][a-z_.-]{0,63}")  # no digit, no '@': holds no number or address
_MODEL = re.compile(r"(?=.{1,128}\Z)(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_.:/+-]*")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)?")
_NOISE = re.compile(r"(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,64}")


def _matches(pattern: re.Pattern[str]) -> Keep:
    """A test by a pattern. Values that pass are remembered (streams repeat their ids and
    names); those that fail are not, so no value that is scanned stays in memory here."""
    known: set[str] = set()

    def keep(value: Any) -> bool:
        if type(value) is not str:
            return False
        if value in known:
            return True
        if pattern.fullmatch(value) is None:
            return False
        if len(known) >= 4096:
            known.clear()
        known.add(value)
        return True

    return keep


def _below(bound: float, *, floats: bool = False) -> Keep:
    types = (int, float) if floats else (int,)

    def keep(value: Any) -> bool:
        number = isinstance(value, types) and not isinstance(value, bool)
        return number and -bound < value < bound and (floats or value >= 0)

    return keep


ID = _matches(_ID)
WORD = _matches(_WORD)
MODEL = _matches(_MODEL)
TIMESTAMP = _matches(_TIME)
NOISE = _matches(_NOISE)  # stream padding ("obfuscation"): letters and digits, a letter in it
COUNT = _below(10**12)  # a card number has 13 digits or more
DURATION = _below(10**15)  # nanoseconds (Ollama): 11 days
NUMBER = _below(10**6, floats=True)  # sampling parameters echoed back (temperature)


def either(*keeps: Keep) -> Keep:
    return lambda value: any(keep(value) for keep in keeps)


def counts(value: Any) -> bool:
    """A usage object: lower-case keys, counts, nested usage objects (``*_details``)."""
    if not isinstance(value, dict):
        return COUNT(value) or value is None
    return all(WORD(k) and counts(v) for k, v in value.items())


# -- the allow-lists: the only values kept unscanned, by path, per API -------------------

_TOOL_CALLS: Allow = {"*": {"index": COUNT, "id": ID, "type": WORD}}
_CHAT_MESSAGE: Allow = {
    "role": WORD,
    "tool_calls": _TOOL_CALLS,
    "content": {"*": {"type": WORD, "thinking": {"*": {"type": WORD}}}},
    "audio": {"id": ID, "expires_at": COUNT},
    "annotations": {
        "*": {"type": WORD, "url_citation": {"start_index": COUNT, "end_index": COUNT}}
    },
    "reasoning_details": {"*": {"type": WORD, "index": COUNT, "format": WORD}},
}
_OPENAI_TOP: Allow = {
    "id": ID,
    "object": WORD,
    "created": COUNT,
    "model": MODEL,
    "system_fingerprint": ID,
    "service_tier": WORD,
    "obfuscation": NOISE,
    "usage": counts,
}

CHAT_ALLOW: Allow = {
    **_OPENAI_TOP,
    "choices": {
        "*": {
            "index": COUNT,
            "finish_reason": WORD,
            "stop_reason": either(WORD, COUNT),
            "delta": _CHAT_MESSAGE,
            "message": _CHAT_MESSAGE,
        }
    },
}

COMPLETIONS_ALLOW: Allow = {
    **_OPENAI_TOP,
    "choices": {"*": {"index": COUNT, "finish_reason": WORD, "stop_reason": either(WORD, COUNT)}},
}

_ANNOTATION: Allow = {"type": WORD, "index": COUNT, "start_index": COUNT, "end_index": COUNT}
_PART: Allow = {"type": WORD, "annotations": {"*": _ANNOTATION}}
_PARTS: Allow = {"*": _PART}
_ITEM: Allow = {
    "id": ID,
    "type": WORD,
    "status": WORD,
    "role": WORD,
    "call_id": ID,
    "content": _PARTS,
    "summary": _PARTS,
    "outputs": {"*": {"type": WORD}},
}
_RESPONSE: Allow = {
    "id": ID,
    "object": WORD,
    "created_at": COUNT,
    "completed_at": COUNT,
    "status": WORD,
    "model": MODEL,
    "output": {"*": _ITEM},
    "usage": counts,
    "tool_choice": WORD,
    "temperature": NUMBER,
    "top_p": NUMBER,
    "top_logprobs": COUNT,
    "max_output_tokens": COUNT,
    "max_tool_calls": COUNT,
    "truncation": WORD,
    "service_tier": WORD,
    "previous_response_id": ID,
    "incomplete_details": {"reason": WORD},
    "text": {"format": {"type": WORD}, "verbosity": WORD},
    "reasoning": {"effort": WORD, "summary": WORD},
    # The request's tool definitions, echoed: their types; names and texts are scanned.
    "tools": {"*": {"type": WORD, "parameters": {"type": WORD}}},
}

# Whole bodies are response objects; stream events wrap them, items and parts.
RESPONSES_ALLOW: Allow = {
    **_RESPONSE,
    "type": WORD,
    "sequence_number": COUNT,
    "output_index": COUNT,
    "content_index": COUNT,
    "summary_index": COUNT,
    "annotation_index": COUNT,
    "item_id": ID,
    "obfuscation": NOISE,
    "response": _RESPONSE,
    "item": _ITEM,
    "part": _PART,
    "annotation": _ANNOTATION,
}

OLLAMA_ALLOW: Allow = {
    "model": MODEL,
    "created_at": TIMESTAMP,
    "done_reason": WORD,
    "total_duration": DURATION,
    "load_duration": DURATION,
    "prompt_eval_count": COUNT,
    "prompt_eval_duration": DURATION,
    "eval_count": COUNT,
    "eval_duration": DURATION,
    "message": {
        "role": WORD,
        "tool_calls": {"*": {"id": ID, "type": WORD, "function": {"index": COUNT}}},
    },
}

ERROR_ALLOW: Allow = {"error": {"type": WORD, "code": either(WORD, COUNT)}}


@dataclass(frozen=True, slots=True)
class Loose:
    """One value (or key) outside the channels, to be scanned: ``text`` is how it reads."""

    holder: dict[str, Any] | list[Any]
    key: str | int
    text: str
    is_key: bool = False


def _number_text(value: int | float) -> str:
    return json.dumps(value)


def loose_values(obj: Any, *, allow: Allow, frame: Frame) -> list[Loose]:
    """The values and keys of ``obj`` to scan: all but the frame's pieces, the allow-listed
    paths and the known field names."""
    skip: dict[int, set[str | int]] = {}
    for piece in frame.pieces:
        skip.setdefault(id(piece.holder), set()).add(piece.key)
    out: list[Loose] = []
    if isinstance(obj, dict | list):
        _walk(obj, allow, skip, out)
    return out


_NO_RULES: Allow = {}


def _walk(
    holder: dict[str, Any] | list[Any],
    allow: Allow,
    skip: dict[int, set[str | int]],
    out: list[Loose],
) -> None:
    """One pass over a container. It runs for every streamed object, so it is one flat
    loop over exact types (what json.loads makes; bool, an int subclass, carries nothing).
    The allow-lists' keys are all in SCHEMA_KEYS: a key with a rule is a known one."""
    skipped = skip.get(id(holder), ())
    items: Iterable[tuple[Any, Any]]
    if type(holder) is dict:
        items, star, keys = holder.items(), None, True
    else:
        items, star, keys = enumerate(holder), allow.get("*"), False
    key: Any
    for key, item in items:
        if keys:
            rule = allow.get(key)
            if rule is None and key not in SCHEMA_KEYS:
                out.append(Loose(holder, key, key, is_key=True))
        else:
            rule = star
        if key in skipped:
            continue
        if rule is not None and type(rule) is not dict and rule(item):  # type: ignore[operator]
            continue  # allow-listed, and it looks the part
        kind = type(item)
        if kind is str:
            if item:
                out.append(Loose(holder, key, item))
        elif kind is dict or kind is list:
            _walk(item, rule if type(rule) is dict else _NO_RULES, skip, out)
        elif kind is int or kind is float:
            out.append(Loose(holder, key, _number_text(item)))


# Objects larger than this (in characters of JSON) are walked in the scan's worker thread
# rather than on the event loop: a 1 MB frame of numbers is ~500,000 values to walk.
LOOP_WALK_CHARS = 16 * 1024


class ValueGuard:
    """Scans one response's loose values, each distinct text once (bounded memory)."""

    max_cached = 4096

    def __init__(self, scans: Scans) -> None:
        self.scans = scans
        self.seen: dict[str, str] = {}

    async def guard(self, obj: Any, *, shape: Shape, frame: Frame, size: int = 0) -> None:
        """Scan the loose values of ``obj`` (``size``: its JSON length) and write what the
        policy made of them back."""
        if size > LOOP_WALK_CHARS:

            def walk_and_scan() -> tuple[list[Loose], dict[str, str]]:
                loose = loose_values(obj, allow=shape.allow, frame=frame)
                done, new = self._known(loose)
                done.update(zip(new, self.scans.rg.scan_values(new), strict=True))
                return loose, done

            # A time-out blocks, or (on_failure: pass) leaves the object as it is.
            nothing: tuple[list[Loose], dict[str, str]] = ([], {})
            loose, done = await self.scans.off_loop(walk_and_scan, unscanned=nothing)
            self._remember(done)
        else:
            loose = loose_values(obj, allow=shape.allow, frame=frame)
            if not loose:
                return
            done, new = self._known(loose)
            if new:
                scanned = dict(zip(new, await self.scans.values(new), strict=True))
                self._remember(scanned)
                done.update(scanned)
        self._write_back(loose, done, frame)

    def _known(self, loose: list[Loose]) -> tuple[dict[str, str], list[str]]:
        """What the distinct texts were made into before, and the texts not seen yet."""
        texts = dict.fromkeys(v.text for v in loose)
        done = {t: self.seen[t] for t in texts if t in self.seen}
        return done, [t for t in texts if t not in done]

    def _remember(self, scanned: dict[str, str]) -> None:
        if len(self.seen) + len(scanned) > self.max_cached:
            self.seen.clear()
        if len(scanned) <= self.max_cached:
            self.seen.update(scanned)

    def _write_back(self, loose: list[Loose], done: dict[str, str], frame: Frame) -> None:
        renamed: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}
        for value in loose:
            text = done[value.text]
            if text == value.text:
                continue
            if value.is_key:
                assert isinstance(value.holder, dict)
                assert isinstance(value.key, str)
                renamed.setdefault(id(value.holder), (value.holder, {}))[1][value.key] = text
            else:
                value.holder[value.key] = text  # type: ignore[index]
        for holder, names in renamed.values():
            names.update(_rename(holder, names))
        for i, piece in enumerate(frame.pieces):  # a piece under a renamed key follows it
            names = renamed.get(id(piece.holder), (None, {}))[1]
            if isinstance(piece.key, str) and piece.key in names:
                frame.pieces[i] = dataclasses.replace(piece, key=names[piece.key])


def _rename(holder: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """Rename keys in place, keeping their order; two keys that redact alike stay apart.
    Returns the names given."""
    items = list(holder.items())
    holder.clear()
    given = {}
    for key, item in items:
        new = names.get(key, key)
        while new in holder:
            new += "'"
        holder[new] = item
        given[key] = new
    return given


def _keys(allow: Allow) -> Iterator[str]:
    for key, rule in allow.items():
        yield key
        if isinstance(rule, Mapping):
            yield from _keys(rule)


# The field names of the APIs the shapes know: those of the allow-lists and these. A key
# that is exactly one of these words is not scanned (wherever it is); any other key is.
SCHEMA_KEYS = frozenset(
    [
        "choices",
        "delta",
        "message",
        "content",
        "name",
        "refusal",
        "logprobs",
        "tool_calls",
        "tool_call_id",
        "function",
        "function_call",
        "arguments",
        "custom",
        "input",
        "audio",
        "transcript",
        "data",
        "url_citation",
        "url",
        "title",
        "reasoning",
        "reasoning_content",
        "reasoning_details",
        "text",
        "summary",
        "signature",
        "thinking",
        "output_text",
        "error",
        "code",
        "param",
        "part",
        "annotation",
        "outputs",
        "logs",
        "container_id",
        "file_id",
        "filename",
        "parallel_tool_calls",
        "tools",
        "instructions",
        "metadata",
        "user",
        "encrypted_content",
        "server_label",
        "done",
        "context",
        "images",
        "tool_name",
        "response",
        "store",
        "background",
        "parameters",
        "properties",
        "description",
        "required",
        "strict",
        "additionalProperties",
        "items",
        "enum",
    ]
).union(*(_keys(a) for a in (CHAT_ALLOW, COMPLETIONS_ALLOW, RESPONSES_ALLOW, OLLAMA_ALLOW)))
