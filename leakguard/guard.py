"""The synchronous core: detectors → findings → policy → :class:`Outcome`.

A :class:`Guard` is built once from a config (loading models is the slow part) and then
scans texts from any number of threads: it holds no per-call state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from leakguard.config import LeakGuardConfig, config_fingerprint
from leakguard.findings import Finding, Outcome, OutcomeAction, join_lines
from leakguard.policy import Numbering, Policy

__all__ = ["Detector", "Guard", "error_message", "scan"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Detector(Protocol):
    """Anything that finds spans in a text. Sees the original text; never rewrites it."""

    name: str

    def detect(self, text: str) -> list[Finding]: ...


@runtime_checkable
class MentionDetector(Protocol):
    """A detector that finds later mentions of names found before (a stream's memory)."""

    def mentions(
        self, text: str, words: Mapping[str, int], findings: Sequence[Finding]
    ) -> list[Finding]: ...


def build_detectors(config: LeakGuardConfig) -> list[Detector]:
    """The detectors a config asks for, each built once."""
    detectors: list[Detector] = []
    if config.pii.enabled:
        from leakguard.pii.detector import PIIDetector

        detectors.append(PIIDetector(config.pii))
    if config.memorization.index is not None:
        from leakguard.memorization.detector import MemorizationDetector

        detectors.append(MemorizationDetector(config.memorization))
    return detectors


class Guard:
    """Scans texts with every configured detector and applies the policy."""

    def __init__(
        self,
        config: LeakGuardConfig | None = None,
        *,
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        self.config = config if config is not None else LeakGuardConfig()
        self.policy = Policy(self.config.policy)
        # Values reviewers marked false positive, known only by their keyed fingerprints.
        self._allowed = frozenset(self.config.pii.allow_fingerprints)
        self._audit_key = None
        if self._allowed:
            from leakguard.audit.chain import resolve_audit_key

            self._audit_key = resolve_audit_key(self.config.audit)
        self.detectors: tuple[Detector, ...] = tuple(
            detectors if detectors is not None else build_detectors(self.config)
        )
        self.policy_version = config_fingerprint(self.config)
        # Detectors that find later mentions of names a stream saw before (the PII one).
        self._mentioners = tuple(d for d in self.detectors if isinstance(d, MentionDetector))

    def detect(self, text: str) -> list[Finding]:
        """All raw findings of all detectors (before policy), on the original text."""
        findings: list[Finding] = []
        for detector in self.detectors:
            findings.extend(detector.detect(text))
        # One address over several lines is one finding already here, so that a stream is
        # never released between its lines (the policy joins them too).
        return join_lines(text, self._not_allowed(text, findings))

    def mentions(
        self, text: str, words: Mapping[str, int], findings: Sequence[Finding]
    ) -> list[Finding]:
        """Later mentions, in ``text``, of the names a stream found (``words``: word ->
        offset in ``text`` from which it counts, see :mod:`leakguard.pii.mentions`) that
        ``findings`` (this text's, from :meth:`detect`) do not cover."""
        found: list[Finding] = []
        for detector in self._mentioners:
            found.extend(detector.mentions(text, words, findings))
        return self._not_allowed(text, found)

    def _not_allowed(self, text: str, findings: list[Finding]) -> list[Finding]:
        """``findings`` without the values reviewers marked false positive."""
        if self._audit_key is None:
            return findings
        key = self._audit_key
        return [
            f
            for f in findings
            if key.fingerprint(f.label, text[f.start : f.end]) not in self._allowed
        ]

    def scan(self, text: str, *, numbering: Numbering | None = None) -> Outcome:
        """Guard one text. A detector error blocks it (or passes it, if configured so)."""
        try:
            findings = self.detect(text)
        except Exception as exc:  # fail closed; never echo the text
            return self._detector_failed(text, exc)
        return self.policy.decide(text, findings, numbering=numbering)

    def _detector_failed(self, text: str, exc: Exception) -> Outcome:
        reason = f"detector_error:{type(exc).__name__}"
        logger.warning(
            "detector failed (%s: %s); on_detector_error=%s",
            reason,
            error_message(exc, text),
            self.config.policy.on_detector_error,
        )
        if self.config.policy.on_detector_error == "pass":
            return Outcome(OutcomeAction.PASS, text, (), reason)
        return Outcome(OutcomeAction.BLOCK, self.config.policy.block_message, (), reason)


def error_message(exc: BaseException, text: str) -> str:
    """A detector error's message for the log, unless it may quote the scanned text: it is
    withheld when any word of it (4+ characters) occurs in ``text``."""
    message = " ".join(str(exc).split())[:300] or "(no message)"
    words = {w.strip(".,:;'\"()[]{}") for w in message.split()}
    if any(len(w) >= 4 and w in text for w in words):
        return "(message withheld: it may quote the scanned text)"
    return message


_GUARDS: dict[tuple[str, str | None], Guard] = {}
_GUARDS_LOCK = threading.Lock()


def scan(text: str, *, config: LeakGuardConfig | None = None) -> Outcome:
    """One-off scan. Builds (and keeps) one :class:`Guard` per distinct config."""
    config = config if config is not None else LeakGuardConfig()
    secret = config.policy.hash_key
    # The fingerprint leaves the secret out; the in-memory cache key must not.
    key = (config_fingerprint(config), secret.get_secret_value() if secret else None)
    with _GUARDS_LOCK:
        guard = _GUARDS.get(key)
        if guard is None:
            guard = _GUARDS[key] = Guard(config)
    return guard.scan(text)
