"""Guarding text that arrives in pieces, with a bounded hold-back.

A :class:`StreamGuard` guards one channel of one response (one choice, one tool call):
``append`` text as it arrives, ``release`` (a scan) when :meth:`StreamGuard.due` says so,
``close`` at the end. Each scan reads only a bounded window: ``context_chars`` of text
already released (for NER and context words) plus the unreleased text. It releases text
that ends at least ``hold_back_chars`` before the end, only between words and never inside
a finding, so a value up to the hold-back long can never be cut in two. Total scan work
over a stream is about (context + hold-back + batch) / batch times one scan of the text.
Incremental detectors (:class:`IncrementalDetector`, e.g. memorization) instead follow the
whole channel text once and hold back whatever may still become part of a finding.

A :class:`ResponseGuard` holds the channels of one response, their shared placeholder
:class:`~leakguard.policy.Numbering`, the evidence for the audit record and the
response-wide rules (``max_findings``). Both are synchronous, do no I/O and are meant to
run in a worker thread; neither is shared between responses.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from leakguard.config import OnlineConfig
from leakguard.events import FindingEvidence, context_snippet
from leakguard.exceptions import FramingError
from leakguard.findings import Finding, OutcomeAction
from leakguard.guard import Guard, error_message
from leakguard.pii.mentions import MAX_NAME_WORDS, name_words
from leakguard.policy import Numbering

__all__ = ["DetectorStream", "IncrementalDetector", "Release", "ResponseGuard", "StreamGuard"]

logger = logging.getLogger(__name__)

_SPACE = re.compile(r"\s")

# A channel of a response: (choice index, "content"), (choice index, "tool", call index)...
Channel = tuple[Hashable, ...]


@runtime_checkable
class DetectorStream(Protocol):
    """One response's incremental scanner (see :mod:`leakguard.memorization.detector`)."""

    @property
    def hold_from(self) -> int: ...

    def feed(self, text: str) -> list[Finding]: ...

    def flush(self) -> list[Finding]: ...


@runtime_checkable
class IncrementalDetector(Protocol):
    """A detector that can also follow a stream without re-reading it."""

    name: str

    def detect(self, text: str) -> list[Finding]: ...

    def stream(self) -> DetectorStream: ...


_INCREMENTAL: weakref.WeakKeyDictionary[Guard, tuple[IncrementalDetector, ...]] = (
    weakref.WeakKeyDictionary()
)


def _incremental(guard: Guard) -> tuple[IncrementalDetector, ...]:
    """The guard's detectors that follow a stream, found once per guard: ``isinstance``
    against a runtime-checkable protocol costs ~12 us a detector (measured), and every
    channel of every response asks."""
    found = _INCREMENTAL.get(guard)
    if found is None:
        found = _INCREMENTAL[guard] = tuple(
            d for d in guard.detectors if isinstance(d, IncrementalDetector)
        )
    return found


@dataclass(frozen=True, slots=True)
class Release:
    """What one scan lets out: redacted text safe to send, or a block."""

    text: str = ""
    findings: tuple[Finding, ...] = ()  # offsets into the channel's whole raw text
    evidence: tuple[FindingEvidence, ...] = ()
    blocked: bool = False
    reason: str | None = None
    scanned: bool = True  # False when a detector failed and on_detector_error is "pass"
    overflowed: bool = False  # the hold-back bound forced a cut


def _after_space_at_or_before(text: str, index: int, floor: int) -> int:
    """The largest cut ``c`` with ``floor < c <= index`` right after a whitespace
    character, or ``floor`` when there is none."""
    cut = max(text.rfind(" ", floor, index), text.rfind("\n", floor, index))
    if cut < floor:  # other whitespace (tabs, NBSP): rare, so searched only as a fallback
        matches = [m.start() for m in _SPACE.finditer(text, floor, index)]
        cut = matches[-1] if matches else -1
    return cut + 1 if cut >= floor else floor


class StreamGuard:
    """Guards one channel of one response; see the module docstring for the algorithm."""

    def __init__(self, guard: Guard, online: OnlineConfig, *, numbering: Numbering) -> None:
        self._guard = guard
        self._cfg = online
        self._numbering = numbering
        self._buf = ""  # raw text from absolute offset _base to the end: the next window
        self._base = 0
        self._released = 0  # absolute offset up to which text has been released
        self._last_scan_end = 0
        self.closed = False
        # Incremental detectors (memorization) see the whole channel text once, in order,
        # and say how far back a finding could still reach (``hold_from``).
        self._streams: list[DetectorStream] = [d.stream() for d in _incremental(guard)]
        self._fed = 0
        self._stream_findings: list[Finding] = []
        self._carry: Finding | None = None  # a finding a forced cut went through
        self._names: dict[str, int] = {}  # words of names found -> offset they count from
        self._end = 0  # absolute offset of the end of the text (= _base + len(_buf))
        self._due_at = self._next_due()  # the end offset at which a scan becomes due

    @property
    def end(self) -> int:
        return self._end

    @property
    def held(self) -> int:
        """Characters received but not released yet."""
        return self.end - self._released

    @property
    def held_text(self) -> str:
        return self._buf[self._released - self._base :]

    def append(self, text: str) -> None:
        if self.closed:
            raise RuntimeError("append after close")
        self._buf += text
        self._end += len(text)

    def due(self) -> bool:
        """Whether a scan would release text now (cheap: one comparison, since it is asked
        after every token)."""
        return self._end >= self._due_at

    def _next_due(self) -> int:
        """Where :meth:`due` turns true: more than ``max_hold_chars`` held, or the
        hold-back plus a step held with a step of new text since the last scan (the first
        step is ``first_scan_chars``, later ones ``scan_batch_chars``)."""
        cfg = self._cfg
        step = cfg.scan_batch_chars if self._released else cfg.first_scan_chars
        enough = max(self._released + cfg.hold_back_chars + step, self._last_scan_end + step)
        return min(self._released + cfg.max_hold_chars + 1, enough)

    def release(self) -> Release:
        """Scan the window and release what is safe (call when :meth:`due`)."""
        return self._scan(final=False)

    def close(self) -> Release:
        """Scan and release everything still held: the channel has ended."""
        self.closed = True
        return self._scan(final=True)

    # -- one scan ----------------------------------------------------------------------
    def _scan(self, *, final: bool) -> Release:
        try:
            return self._scan_window(final=final)
        finally:
            self._due_at = self._next_due()

    def _scan_window(self, *, final: bool) -> Release:
        if self.held == 0:
            return Release()
        self._last_scan_end = self.end
        try:
            hold = self._feed_streams(final=final)
            if not final and hold <= self._released and self.held <= self._cfg.max_hold_chars:
                return Release()  # a run may still be growing: nothing can go yet
            start = self._base  # the window: all the text kept (see _context_start)
            window = self._buf[start - self._base :]
            found = self._guard.detect(window)
            found += self._mentions(window, start, found)
        except Exception as exc:  # fail closed; never echo the text
            return self._detector_failed(exc)
        findings = [f.moved(f.start + start, f.end + start) for f in found]
        findings += [f for f in self._stream_findings if f.end > self._released]
        if self._carry is not None:
            findings.append(self._continuation(self._carry))
        overflowed = False
        if final:
            cut = self.end
        else:
            cut = self._safe_cut(findings, min(hold, self.end - self._cfg.hold_back_chars))
            if cut <= self._released and self.held > self._cfg.max_hold_chars:
                if self._cfg.on_hold_overflow == "block":
                    return Release(blocked=True, reason="hold_overflow", overflowed=True)
                cut, overflowed = self.end - self._cfg.hold_back_chars, True
                cut_through = [f for f in findings if f.start < cut < f.end]
                self._carry = cut_through[0] if cut_through else None
            if cut <= self._released:
                return Release()
        return self._release_until(cut, findings, overflowed=overflowed)

    def _mentions(self, window: str, start: int, found: list[Finding]) -> list[Finding]:
        """Mentions in the window of names found earlier in the channel, beyond the
        window's reach ("Park Ji-yeon ... [2,000 characters] ... Park said"); the words of
        the names found so far are kept (at most ``MAX_NAME_WORDS``), each with the offset
        from which it counts, as a one-shot scan counts them (:mod:`leakguard.pii.mentions`).
        A mention's word is one of these already, so only ``found`` adds words."""
        spans = [(f.start, f.end) for f in found if f.label == "PERSON"]
        seen = name_words(window, spans) if spans else {}
        extra: list[Finding] = []
        if self._names:
            words = {w: o - start for w, o in self._names.items()}
            for word, offset in seen.items():
                words[word] = min(offset, words.get(word, offset))
            extra = self._guard.mentions(window, words, found)
        for word, offset in seen.items():
            if len(self._names) < MAX_NAME_WORDS:
                self._names[word] = min(offset + start, self._names.get(word, offset + start))
        return extra

    def _continuation(self, carry: Finding) -> Finding:
        """After a forced cut through a finding, the rest of it (to the end of its word)
        counts as the same finding, even if a window that starts inside it cannot see it."""
        space = _SPACE.search(self._buf, self._released - self._base)
        end = self._base + space.start() if space else self.end
        if space:
            self._carry = None  # the cut-through word ends here: nothing more to carry
        return carry.moved(self._released, max(end, self._released + 1))

    def _context_start(self, cut: int, findings: list[Finding]) -> int:
        """Where the scan window opens once text up to ``cut`` is released: up to
        ``context_chars`` of released text, beginning after a whitespace so it never
        opens inside a word, and never inside a finding of the last scan that was released
        whole. (A window that opened inside one card number would let a pattern match its
        tail and the head of the next number, and miss how a one-shot scan splits them;
        opening where the finding starts keeps the window's matches in step with a
        one-shot scan.) A finding the cut goes through (a forced cut, see ``_continuation``)
        does not move it: its start may lie a whole ``max_hold_chars`` back, and the
        buffer must stay bounded while such a run goes on."""
        lo = max(self._base, cut - self._cfg.context_chars)
        if lo == 0:
            return 0
        space = _SPACE.search(self._buf, lo - self._base, cut - self._base)
        start = self._base + space.end() if space else cut
        released = [f for f in findings if f.end <= cut]
        inside = [f.start for f in released if f.start < start < f.end]
        while inside:
            start = min(inside)
            inside = [f.start for f in released if f.start < start < f.end]
        return max(start, self._base)

    def _feed_streams(self, *, final: bool) -> int:
        """Give incremental detectors the text they have not seen; returns the offset
        before which they have decided everything (their ``hold_from``)."""
        new = self._buf[self._fed - self._base :]
        self._fed = self.end
        for stream in self._streams:
            found = stream.feed(new) if new else []
            self._stream_findings += found + (stream.flush() if final else [])
        return min((s.hold_from for s in self._streams), default=self.end)

    def _safe_cut(self, findings: list[Finding], limit: int) -> int:
        """The last offset at or before ``limit`` right after a whitespace and outside
        every finding (findings may chain, so repeat)."""
        floor = self._released
        cut = limit
        while cut > floor:
            snapped = self._base + _after_space_at_or_before(
                self._buf, cut - self._base, floor - self._base
            )
            straddling = [f.start for f in findings if f.start < snapped < f.end]
            cut = min(straddling) if straddling else snapped
            if not straddling:
                return cut
        return floor

    def _release_until(self, cut: int, findings: list[Finding], *, overflowed: bool) -> Release:
        lo = self._released
        region = self._buf[lo - self._base : cut - self._base]
        # Findings inside the region; one reaching back into released text (seen only now,
        # with more context) is clipped to its unreleased part, so that part is still covered.
        local = [
            f.moved(max(f.start, lo) - lo, min(f.end, cut) - lo)
            for f in findings
            if f.end > lo and f.start < cut
        ]
        outcome = self._guard.policy.decide(region, local, numbering=self._numbering)
        absolute = tuple(f.moved(f.start + lo, f.end + lo) for f in outcome.findings)
        # Evidence for blocks too: the record says what caused one, like a redaction.
        evidence = tuple(
            FindingEvidence(
                a, region[f.start : f.end], context_snippet(region, outcome.findings, i)
            )
            for i, (f, a) in enumerate(zip(outcome.findings, absolute, strict=True))
        )
        if outcome.action is OutcomeAction.BLOCK:
            return Release(
                blocked=True, reason=outcome.reason, findings=absolute, evidence=evidence
            )
        keep_from = self._context_start(cut, findings)
        self._released = cut
        self._stream_findings = [f for f in self._stream_findings if f.end > cut]
        self._buf = self._buf[keep_from - self._base :]
        self._base = keep_from
        return Release(outcome.text, absolute, evidence, overflowed=overflowed)

    def _detector_failed(self, exc: Exception) -> Release:
        reason = f"detector_error:{type(exc).__name__}"
        logger.warning(
            "detector failed on a stream window (%s: %s); on_detector_error=%s",
            reason,
            error_message(exc, self._buf),
            self._guard.config.policy.on_detector_error,
        )
        if self._guard.config.policy.on_detector_error == "block":
            return Release(blocked=True, reason=reason)
        # Explicitly configured pass: release everything held, unscanned (counted upstream).
        text = self._buf[self._released - self._base :]
        self._released = self._fed = self.end
        self._buf, self._base = "", self.end
        return Release(text, reason=reason, scanned=False)


class ResponseGuard:
    """The channels of one response, their shared numbering and the response-wide state."""

    def __init__(self, guard: Guard, online: OnlineConfig, *, keep_text: bool = False) -> None:
        self.guard = guard
        self.online = online
        # Keep what each channel released, for APIs that repeat the whole text at the end
        # (bounded by online.max_body_bytes characters in all).
        self.keep_text = keep_text
        self.released: dict[Channel, list[str]] = {}
        self._kept = 0
        self.numbering = Numbering()
        self.channels: dict[Channel, StreamGuard] = {}
        self.evidence: list[FindingEvidence] = []
        self.finding_count = 0
        self.redacted = False
        self.fully_scanned = True
        self.blocked = False
        self.reason: str | None = None
        self.text_chars = 0
        self.scan_seconds = 0.0
        self.overflows = 0

    def channel(self, key: Channel) -> StreamGuard:
        sg = self.channels.get(key)
        if sg is None:
            if len(self.channels) >= self.online.max_channels:
                raise FramingError(
                    f"more than online.max_channels={self.online.max_channels} channels",
                    kind="channels",
                )
            sg = self.channels[key] = StreamGuard(self.guard, self.online, numbering=self.numbering)
        return sg

    def append(self, key: Channel, text: str) -> StreamGuard:
        """Add text to a channel (cheap); the caller scans when ``due()``."""
        sg = self.channel(key)
        sg.append(text)
        self.text_chars += len(text)
        return sg

    def release(self, key: Channel) -> str:
        """Scan a channel whose text is due; returns the text to send ("" if blocked)."""
        return self._keep(key, self._account(self.channel(key).release))

    def close(self, key: Channel) -> str:
        """End a channel: scan and release all it holds."""
        sg = self.channels.get(key)
        if sg is None or sg.closed:
            return ""
        return self._keep(key, self._account(sg.close))

    def released_text(self, key: Channel) -> str | None:
        """All a channel released so far (with ``keep_text``), ``None`` for no such channel."""
        parts = self.released.get(key)
        return None if parts is None else "".join(parts)

    def abandon(self, key: Channel) -> str:
        """Drop a channel whose scan did not finish in time and return the raw text it
        held (to pass it on unscanned, if so configured); a later append starts afresh.
        The abandoned scan may still run, on an object nobody uses any more."""
        sg = self.channels.pop(key, None)
        self.fully_scanned = False
        return "" if sg is None else sg.held_text

    def _keep(self, key: Channel, text: str) -> str:
        if self.keep_text:
            self._kept += len(text)
            if self._kept > self.online.max_body_bytes:
                self.block("text_bound")
                return ""
            self.released.setdefault(key, []).append(text)
        return text

    def scan_whole(self, key: Channel, text: str) -> str:
        """Guard a complete text (a field of a whole body) as one scan."""
        sg = StreamGuard(self.guard, self.online, numbering=self.numbering)
        sg.append(text)
        self.text_chars += len(text)
        return self._keep(key, self._account(sg.close))

    def scan_values(self, texts: list[str]) -> list[str]:
        """Guard short complete values (outside the channels), each as one scan; what
        they release is not kept as channel text. After a block the rest is ``""``."""
        out = []
        for text in texts:
            sg = StreamGuard(self.guard, self.online, numbering=self.numbering)
            sg.append(text)
            self.text_chars += len(text)
            out.append(self._account(sg.close))
        return out

    def open_channels(self) -> list[Channel]:
        return [k for k, sg in self.channels.items() if not sg.closed]

    def block(self, reason: str) -> None:
        if not self.blocked:
            self.blocked, self.reason = True, reason

    @property
    def action(self) -> OutcomeAction:
        if self.blocked:
            return OutcomeAction.BLOCK
        return OutcomeAction.REDACT if self.redacted else OutcomeAction.PASS

    def _account(self, scan: Callable[[], Release]) -> str:
        if self.blocked:
            return ""
        began = time.perf_counter()
        try:
            result = scan()
        finally:
            self.scan_seconds += time.perf_counter() - began
        self.finding_count += len(result.findings)
        room = self.online.max_evidence - len(self.evidence)
        self.evidence.extend(result.evidence[: max(room, 0)])
        self.overflows += result.overflowed
        if not result.scanned:
            self.fully_scanned = False
            self.reason = self.reason or result.reason
        if result.blocked:
            self.block(result.reason or "policy")
            return ""
        limit = self.guard.config.policy.max_findings
        if limit is not None and self.finding_count > limit:
            self.block(f"max_findings:{limit}")
            return ""
        self.redacted = self.redacted or any(f.replacement is not None for f in result.findings)
        return result.text
