"""Where the model's text is in the API responses leakguard understands.

A :class:`Shape` turns one decoded JSON object (a whole body, one SSE event or one NDJSON
line) into a :class:`Frame`: the text :class:`Piece` s it carries, each on a *channel*
(one choice, one tool call, one output part) that is guarded on its own, and which
channels the object ends. Pieces are written back in place, so everything else in the
object (ids, roles, usage, event names) passes unchanged.

Shapes: OpenAI chat completions and completions (whole and ``chunk`` streams, ``n > 1``,
tool-call arguments), the Responses API (whole and streamed events), Ollama (NDJSON and
whole), OpenAI-style error bodies, and :class:`JSONPathShape` for other schemas, set by
``online.json_paths``. A JSON object no shape knows is unscannable (fail closed).

Token log-probabilities repeat the raw tokens and Ollama's ``context`` encodes them, so
both are removed from every guarded object.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from leakguard.config import JSONPathRule, path_matches
from leakguard.online.values import (
    CHAT_ALLOW,
    COMPLETIONS_ALLOW,
    ERROR_ALLOW,
    OLLAMA_ALLOW,
    RESPONSES_ALLOW,
    Allow,
)

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "ERROR",
    "LEAVES",
    "OLLAMA",
    "RESPONSES",
    "Frame",
    "JSONPathShape",
    "Piece",
    "Shape",
    "detect_shape",
    "error_body",
]

Channel = tuple[Hashable, ...]
Kind = Literal["delta", "whole", "final"]
Holder = dict[str, Any] | list[Any]


@dataclass(frozen=True, slots=True)
class Piece:
    """One text field of a decoded object.

    ``delta``: the next part of the channel's text (streams); ``whole``: a complete text;
    ``final``: the whole text of a channel already streamed in deltas (Responses ``done``
    events), replaced by what the client was actually sent on that channel.
    """

    channel: Channel
    holder: Holder
    key: str | int
    kind: Kind

    @property
    def text(self) -> str:
        value = self.holder[self.key]  # type: ignore[index]
        return value if isinstance(value, str) else ""

    def set(self, text: str) -> None:
        self.holder[self.key] = text  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class Frame:
    """The pieces of one object and the channels it ends (by channel prefix)."""

    pieces: list[Piece] = field(default_factory=list)
    ends: list[Channel] = field(default_factory=list)
    model: str | None = None


def _str(holder: Any, key: str | int) -> bool:
    try:
        return isinstance(holder[key], str)
    except (KeyError, IndexError, TypeError):
        return False


def _dicts(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _index(item: dict[str, Any], default: int) -> int:
    value = item.get("index", default)
    return value if isinstance(value, int) else default


def _model(obj: dict[str, Any]) -> str | None:
    model = obj.get("model")
    return model if isinstance(model, str) else None


class Shape:
    """Base: one API's response objects. Subclasses fill in :meth:`frame`."""

    name = "shape"
    # The paths of values kept unscanned (see leakguard.online.values); every other value
    # and key outside the pieces is scanned as a short whole value.
    allow: ClassVar[Allow] = {}
    # Streams of this shape repeat whole channel texts in later events (``final`` pieces).
    repeats_text = False

    # Streams of this shape mark their end ([DONE], a completed event, done: true): one
    # that stops without it is truncated.
    marks_end = False

    def frame(self, obj: Any) -> Frame | None:
        """The pieces of ``obj``, or ``None`` if it is not an object of this shape."""
        raise NotImplementedError

    def is_last(self, obj: Any) -> bool:
        """Whether ``obj`` is the stream's own last object."""
        return False

    def synthesize(self, template: dict[str, Any], channel: Channel, text: str) -> dict[str, Any]:
        """A copy of a delta object that carries ``text`` on ``channel`` only: used to send
        the text a channel still held when it ends."""
        clone = copy.deepcopy(template)
        frame = self.frame(clone)
        assert frame is not None
        for piece in frame.pieces:
            if piece.kind == "delta":
                piece.set(text if piece.channel == channel else "")
        self.unfinish(clone)
        return clone

    def unfinish(self, obj: dict[str, Any]) -> None:
        """Clear end markers in a synthesized object."""

    def scrub(self, obj: Any) -> None:
        """Remove fields that repeat raw text in another form (log-probabilities)."""
        for _, choice in _dicts(obj.get("choices") if isinstance(obj, dict) else None):
            if choice.get("logprobs") is not None:
                choice["logprobs"] = None


# Chat message fields that are not streamed text: roles, ids and names (their values are
# scanned whole, or kept by the allow-list).
_CHAT_META = frozenset({"role", "name", "tool_call_id", "id", "type"})


class _ChatShape(Shape):
    """``/v1/chat/completions``: ``chat.completion`` bodies and ``chat.completion.chunk``."""

    name = "openai.chat"
    allow = CHAT_ALLOW
    marks_end = True  # data: [DONE]

    def frame(self, obj: Any) -> Frame | None:
        # Required: the object type and a list of choices (empty in a usage-only chunk).
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            return None
        if obj.get("object") not in ("chat.completion", "chat.completion.chunk"):
            return None
        streamed = obj["object"] == "chat.completion.chunk"
        kind: Kind = "delta" if streamed else "whole"
        out = Frame(model=_model(obj))
        for pos, choice in _dicts(obj.get("choices")):
            i = _index(choice, pos)
            message = choice.get("delta" if streamed else "message")
            if isinstance(message, dict):
                out.pieces.extend(self._message(message, i, kind))
            if choice.get("finish_reason") is not None:
                out.ends.append((i,))
        return out

    def _message(self, message: dict[str, Any], i: int, kind: Kind) -> Iterator[Piece]:
        # content, refusal, reasoning_content, ...: every string but the role and ids is text,
        # so a field a server adds is guarded too; content may be a list of parts.
        for key, value in message.items():
            if isinstance(value, str) and key not in _CHAT_META:
                yield Piece((i, key), message, key, kind)
        yield from _parts(message.get("content"), (i, "content"), kind)
        audio = message.get("audio")
        if isinstance(audio, dict) and _str(audio, "transcript"):
            yield Piece((i, "audio"), audio, "transcript", kind)
        for pos, call in _dicts(message.get("tool_calls")):
            j = _index(call, pos)
            function = call.get("function")
            if isinstance(function, dict) and _str(function, "arguments"):
                yield Piece((i, "tool", j), function, "arguments", kind)
            custom = call.get("custom")  # a custom (free-form) tool: its input is model text
            if isinstance(custom, dict) and _str(custom, "input"):
                yield Piece((i, "custom", j), custom, "input", kind)
        for pos, detail in _dicts(message.get("reasoning_details")):  # OpenRouter
            j = _index(detail, pos)
            for key in ("text", "summary"):
                if _str(detail, key):
                    yield Piece((i, "reasoning_details", j, key), detail, key, kind)
        function = message.get("function_call")
        if isinstance(function, dict) and _str(function, "arguments"):
            yield Piece((i, "function_call"), function, "arguments", kind)

    def synthesize(self, template: dict[str, Any], channel: Channel, text: str) -> dict[str, Any]:
        i, what = channel[0], channel[1]
        old = _delta_of(template, i)
        if what == "tool":
            delta: dict[str, Any] = {
                "tool_calls": [{"index": channel[2], "function": {"arguments": text}}]
            }
        elif what == "custom":
            delta = {"tool_calls": [{"index": channel[2], "custom": {"input": text}}]}
        elif what == "reasoning_details":
            j, key = channel[2], str(channel[3])
            kinds = [d.get("type") for _, d in _dicts(old.get(str(what))) if d.get("index", j) == j]
            detail = {"type": kinds[-1] if kinds else "reasoning.text", key: text, "index": j}
            delta = {what: [detail]}
        elif channel[2:] == ("thinking",):  # a thinking part of a content list (Mistral)
            part = {"type": "thinking", "thinking": [{"type": "text", "text": text}]}
            delta = {"content": [part]}
        elif isinstance(old.get(str(what)), list):  # content as a list of parts
            delta = {str(what): [{"type": "text", "text": text}]}
        elif what == "function_call":
            delta = {"function_call": {"arguments": text}}
        elif what == "audio":
            delta = {"audio": {"transcript": text}}
        else:
            delta = {str(what): text}
        keep = {k: v for k, v in template.items() if k not in ("choices", "usage")}
        return keep | {"choices": [{"index": i, "delta": delta, "finish_reason": None}]}


def _parts(value: Any, channel: Channel, kind: Kind) -> Iterator[Piece]:
    """The text of a list of content parts (``[{"type": "text", "text": ...}]``): text
    parts on ``channel``, refusals on the refusal channel, thinking parts on their own."""
    i = channel[0]
    for _, part in _dicts(value):
        if _str(part, "text"):
            yield Piece(channel, part, "text", kind)
        if _str(part, "refusal"):
            yield Piece((i, "refusal"), part, "refusal", kind)
        for _, sub in _dicts(part.get("thinking")):
            if _str(sub, "text"):
                yield Piece((*channel, "thinking"), sub, "text", kind)


def _delta_of(obj: dict[str, Any], i: Hashable) -> dict[str, Any]:
    """The delta of choice ``i`` in a chunk (``{}`` when there is none)."""
    for pos, choice in _dicts(obj.get("choices")):
        delta = choice.get("delta")
        if _index(choice, pos) == i and isinstance(delta, dict):
            return delta
    return {}


class _CompletionsShape(Shape):
    """``/v1/completions``: ``text_completion`` bodies and streams."""

    name = "openai.completions"
    allow = COMPLETIONS_ALLOW
    marks_end = True  # data: [DONE]

    def frame(self, obj: Any) -> Frame | None:
        if not isinstance(obj, dict) or obj.get("object") != "text_completion":
            return None
        if not isinstance(obj.get("choices"), list):  # required, like the object type
            return None
        # Streams and bodies share one object type: a body is guarded as one delta + end.
        out = Frame(model=_model(obj))
        for pos, choice in _dicts(obj.get("choices")):
            i = _index(choice, pos)
            if _str(choice, "text"):
                out.pieces.append(Piece((i, "text"), choice, "text", "delta"))
            if choice.get("finish_reason") is not None:
                out.ends.append((i,))
        return out

    def synthesize(self, template: dict[str, Any], channel: Channel, text: str) -> dict[str, Any]:
        keep = {k: v for k, v in template.items() if k not in ("choices", "usage")}
        choice = {"index": channel[0], "text": text, "logprobs": None, "finish_reason": None}
        return keep | {"choices": [choice]}


# Responses API: the kind of text each streamed ``*.delta`` event type carries.
_RESPONSE_DELTAS = {
    "response.output_text": ("text", "text", "content_index"),
    "response.refusal": ("refusal", "refusal", "content_index"),
    "response.function_call_arguments": ("args", "arguments", None),
    "response.reasoning_summary_text": ("summary", "text", "summary_index"),
    "response.reasoning_text": ("reasoning", "text", "content_index"),
    "response.custom_tool_call_input": ("input", "input", None),
    "response.mcp_call_arguments": ("args", "arguments", None),
    "response.code_interpreter_call_code": ("code", "code", None),
}


# Responses event fields that are identifiers or names, never model text.
_META_KEYS = frozenset({"type", "item_id", "id", "call_id", "name", "status", "role", "model"})


class _ResponsesShape(Shape):
    """The Responses API: ``response`` bodies and ``response.*`` stream events. Streams
    repeat the whole text in ``*.done``, ``*.part.done``, ``output_item.done`` and
    ``response.completed`` events: those become ``final`` pieces."""

    name = "openai.responses"
    allow = RESPONSES_ALLOW
    repeats_text = True
    marks_end = True

    def is_last(self, obj: Any) -> bool:
        kind = obj.get("type") if isinstance(obj, dict) else None
        return kind in ("response.completed", "response.failed", "response.incomplete", "error")

    def frame(self, obj: Any) -> Frame | None:
        if not isinstance(obj, dict):
            return None
        if obj.get("object") == "response":
            return self._response(obj, "whole")
        kind = obj.get("type")
        if kind == "error":  # the Responses stream's error event
            return Frame(
                [Piece(("error",), obj, "message", "whole")] if _str(obj, "message") else []
            )
        if not isinstance(kind, str) or not kind.startswith("response."):
            return None
        oi = obj.get("output_index", 0)
        base, _, suffix = kind.rpartition(".")
        spec = _RESPONSE_DELTAS.get(base)
        delta = obj.get("delta")
        if spec is None and suffix == "delta" and isinstance(delta, str | list):
            # A text delta of a kind not listed (e.g. audio transcripts): guarded the same way.
            spec = (base, "", "content_index")
        if spec is not None and suffix in ("delta", "done"):
            what, full_key, index_key = spec
            channel = (oi, what, obj.get(index_key, 0) if index_key else 0)
            if suffix == "delta":
                # A string, or a list of strings or text parts, in order; any other delta
                # is no end and its values are scanned whole (leakguard.online.values).
                if isinstance(delta, str):
                    return Frame([Piece(channel, obj, "delta", "delta")])
                return Frame(list(_list_delta(delta, channel)))
            pieces = [Piece(channel, obj, full_key, "final")] if _str(obj, full_key) else []
            return Frame(pieces, ends=[channel])
        if suffix == "done" and not ({"part", "item", "response"} & obj.keys()):
            # The end of a kind not listed: every string but ids and names is its text.
            channel = (oi, base, obj.get("content_index", 0))
            keys = [k for k, v in obj.items() if isinstance(v, str) and k not in _META_KEYS]
            return Frame([Piece(channel, obj, k, "final") for k in keys], ends=[channel])
        out = Frame()
        part = obj.get("part")
        if isinstance(part, dict):
            index = obj.get("summary_index" if "summary" in kind else "content_index", 0)
            out.pieces.extend(self._part(part, oi, index, "final", summary="summary" in kind))
        item = obj.get("item")
        if isinstance(item, dict):
            out.pieces.extend(self._item(item, oi, "final"))
        response = obj.get("response")
        if isinstance(response, dict):
            return self._response(response, "final", into=out)
        return out

    def _response(self, response: dict[str, Any], kind: Kind, into: Frame | None = None) -> Frame:
        out = into if into is not None else Frame()
        for oi, item in _dicts(response.get("output")):
            out.pieces.extend(self._item(item, oi, kind))
        if _str(response, "output_text"):  # a convenience field some servers add
            out.pieces.append(Piece(("output_text",), response, "output_text", "whole"))
        return Frame(out.pieces, out.ends, _model(response))

    def _item(self, item: dict[str, Any], oi: int, kind: Kind) -> Iterator[Piece]:
        # Function, MCP and custom tool calls, code interpreter code: the streamed fields.
        for key, what in (("arguments", "args"), ("input", "input"), ("code", "code")):
            if _str(item, key):
                yield Piece((oi, what, 0), item, key, kind)
        for ci, part in _dicts(item.get("content")):
            yield from self._part(part, oi, ci, kind, summary=False)
        for si, part in _dicts(item.get("summary")):
            yield from self._part(part, oi, si, kind, summary=True)

    def _part(
        self, part: dict[str, Any], oi: int, index: int, kind: Kind, *, summary: bool
    ) -> Iterator[Piece]:
        if summary:
            if _str(part, "text"):
                yield Piece((oi, "summary", index), part, "text", kind)
            return
        what = {"output_text": "text", "reasoning_text": "reasoning"}.get(part.get("type", ""))
        if what and _str(part, "text"):
            yield Piece((oi, what, index), part, "text", kind)
        if _str(part, "refusal"):
            yield Piece((oi, "refusal", index), part, "refusal", kind)

    def synthesize(self, template: dict[str, Any], channel: Channel, text: str) -> dict[str, Any]:
        clone = dict(template)
        old = template.get("delta")
        if isinstance(old, list):  # keep the form the stream uses
            parts = any(isinstance(item, dict) for item in old)
            clone["delta"] = [{"type": "text", "text": text}] if parts else [text]
        else:
            clone["delta"] = text
        clone.pop("logprobs", None)
        return clone

    def scrub(self, obj: Any) -> None:
        # Log-probabilities of the event, of its part, item or response, and of the parts
        # of their output items.
        if not isinstance(obj, dict):
            return
        response, item = obj.get("response"), obj.get("item")
        outputs = [response.get("output")] if isinstance(response, dict) else []
        outputs.append(obj.get("output"))
        items = [i for output in outputs for _, i in _dicts(output)]
        items += [item] if isinstance(item, dict) else []
        parts = [p for i in items for _, p in _dicts(i.get("content"))]
        parts += [obj["part"]] if isinstance(obj.get("part"), dict) else []
        for holder in [obj, *parts]:
            if holder.get("logprobs"):
                holder["logprobs"] = []


def _list_delta(delta: Any, channel: Channel) -> Iterator[Piece]:
    if not isinstance(delta, list):
        return
    for j, item in enumerate(delta):
        if isinstance(item, str):
            yield Piece(channel, delta, j, "delta")
        elif isinstance(item, dict) and _str(item, "text"):
            yield Piece(channel, item, "text", "delta")


class _OllamaShape(Shape):
    """Ollama's ``/api/generate`` and ``/api/chat`` (NDJSON streams and whole bodies)."""

    name = "ollama"
    allow = OLLAMA_ALLOW
    marks_end = True

    def is_last(self, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("done") is True

    def frame(self, obj: Any) -> Frame | None:
        # Recognised by its required fields: a boolean ``done`` and the ``response``
        # (/api/generate) or ``message`` (/api/chat) it streams; not by ``done`` alone.
        if not isinstance(obj, dict) or not isinstance(obj.get("done"), bool):
            return None
        message = obj.get("message")
        if not isinstance(message, dict) and not _str(obj, "response"):
            return None
        out = Frame(model=_model(obj))
        for key in ("response", "thinking"):  # /api/generate with think: true
            if _str(obj, key):
                out.pieces.append(Piece((key,), obj, key, "delta"))
        if isinstance(message, dict):
            for key in ("content", "thinking"):
                if _str(message, key):
                    out.pieces.append(Piece((key,), message, key, "delta"))
            for j, call in _dicts(message.get("tool_calls")):
                function = call.get("function")
                arguments = function.get("arguments") if isinstance(function, dict) else None
                out.pieces.extend(_leaves(arguments, ("tool", j)))
        if obj.get("done") is True:
            out.ends.append(())
        return out

    def unfinish(self, obj: dict[str, Any]) -> None:
        obj["done"] = False
        for key in ("done_reason", "total_duration", "eval_count", "eval_duration", "context"):
            obj.pop(key, None)

    def scrub(self, obj: Any) -> None:
        if isinstance(obj, dict):
            obj.pop("context", None)


def _leaves(value: Any, channel: Channel) -> Iterator[Piece]:
    """Every string inside a JSON value, each a ``whole`` piece on its own channel."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield Piece((*channel, key), value, key, "whole")
            else:
                yield from _leaves(item, (*channel, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield Piece((*channel, i), value, i, "whole")
            else:
                yield from _leaves(item, (*channel, i))


class _ErrorShape(Shape):
    """An OpenAI-style error body (``{"error": {"message": ...}}``) or Ollama's
    ``{"error": "..."}``: the message may quote text, so it is guarded too."""

    name = "error"
    allow = ERROR_ALLOW

    def frame(self, obj: Any) -> Frame | None:
        # Recognised by its required fields (an ``error`` string, or an ``error`` object
        # with a ``message`` string); any other field of the body is scanned too.
        error = obj.get("error") if isinstance(obj, dict) else None
        if isinstance(error, str):
            return Frame([Piece(("error",), obj, "error", "whole")])
        if isinstance(error, dict) and _str(error, "message"):
            return Frame(list(_leaves(error, ("error",))))
        return None


class _LeavesShape(Shape):
    """Every string in the object, each scanned whole: for error bodies of unknown schema."""

    name = "leaves"

    def frame(self, obj: Any) -> Frame | None:
        if not isinstance(obj, dict | list):
            return None
        return Frame(list(_leaves(obj, ())))


class JSONPathShape(Shape):
    """Other schemas: text at configured dotted paths (``*`` walks a list)."""

    name = "json_paths"
    # The route's configuration says where the streamed text is (the channels); every
    # other value is scanned like any shape's, so no field passes unscanned.

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = [f.split(".") for f in fields]

    def frame(self, obj: Any) -> Frame | None:
        if not isinstance(obj, dict | list):
            return None
        pieces = [p for steps in self.fields for p in self._walk(obj, steps, ())]
        return Frame(pieces, model=_model(obj) if isinstance(obj, dict) else None)

    def _walk(self, value: Any, steps: list[str], at: Channel) -> Iterator[Piece]:
        head, rest = steps[0], steps[1:]
        if head == "*" and isinstance(value, list):
            keys: list[str | int] = list(range(len(value)))
        elif isinstance(value, dict) and head in value:
            keys = [head]
        elif isinstance(value, list) and head.isdigit() and int(head) < len(value):
            keys = [int(head)]
        else:
            return
        for key in keys:
            child = value[key]
            if not rest:
                if isinstance(child, str):
                    yield Piece((*at, key), value, key, "delta")
            else:
                yield from self._walk(child, rest, (*at, key))


CHAT = _ChatShape()
COMPLETIONS = _CompletionsShape()
RESPONSES = _ResponsesShape()
OLLAMA = _OllamaShape()
ERROR = _ErrorShape()
LEAVES = _LeavesShape()
_KNOWN: tuple[Shape, ...] = (CHAT, COMPLETIONS, RESPONSES, OLLAMA, ERROR)


def detect_shape(obj: Any, *, path: str, json_paths: Sequence[JSONPathRule] = ()) -> Shape | None:
    """The shape of a response object: configured JSON paths for the route first, then
    the built-in APIs; ``None`` when nothing knows it (the caller fails closed)."""
    for rule in json_paths:
        if path_matches(rule.path, path):
            shape = JSONPathShape(rule.fields)
            frame = shape.frame(obj)
            if frame is not None and frame.pieces:
                return shape
    return next((s for s in _KNOWN if s.frame(obj) is not None), None)


def error_body(message: str, *, kind: str, code: str | None) -> dict[str, Any]:
    """An OpenAI error object: clients (the ``openai`` SDK) raise it with this message."""
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}
