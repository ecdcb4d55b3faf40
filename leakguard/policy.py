"""Turn findings into an :class:`Outcome`: per-label actions, response rules, one redaction pass."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable

from leakguard.config import PolicyConfig
from leakguard.exceptions import ConfigError
from leakguard.findings import (
    Action,
    Finding,
    Outcome,
    OutcomeAction,
    join_lines,
    merge_overlapping,
)

__all__ = ["Numbering", "Policy", "keyed_fingerprint", "normalize_value"]


def normalize_value(value: str) -> str:
    """The form under which two spellings of one value count as the same value."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def keyed_fingerprint(key: bytes, label: str, value: str, *, length: int = 16) -> str:
    """HMAC-SHA256 of a normalized value: correlates repeats without revealing the value."""
    message = f"{label}\x00{normalize_value(value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:length]


class Numbering:
    """Per-response placeholder numbers: the same value keeps its number (``<PERSON_1>``).

    Mutable and owned by one response; a streaming guard keeps one across chunks.
    """

    __slots__ = ("_numbers",)

    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, int]] = {}

    def number(self, label: str, value: str) -> int:
        per_label = self._numbers.setdefault(label, {})
        return per_label.setdefault(normalize_value(value), len(per_label) + 1)


def resolve_hash_key(config: PolicyConfig) -> bytes | None:
    """The key for the ``hash`` action, as the config resolved it when it was built (inline,
    or from the environment variable ``hash_key_env`` names)."""
    if config.hash_key is not None:
        return config.hash_key.get_secret_value().encode()
    return None


class Policy:
    """Decides and applies actions. Pure: no I/O, no state between calls."""

    def __init__(self, config: PolicyConfig, *, hash_key: bytes | None = None) -> None:
        self.config = config
        self._hash_key = hash_key if hash_key is not None else resolve_hash_key(config)
        if self._hash_key is None and config.uses(Action.HASH):
            raise ConfigError(
                "policy uses the 'hash' action but no key is set: set policy.hash_key, or "
                f"the environment variable named by policy.hash_key_env ({config.hash_key_env!r})"
            )

    def decide(
        self,
        text: str,
        findings: Iterable[Finding],
        *,
        numbering: Numbering | None = None,
    ) -> Outcome:
        """Join the lines of multi-line values (addresses), merge overlapping findings,
        apply response rules, redact once over original offsets."""
        decided = [f.decided(self.config.action_for(f.label), f.replacement) for f in findings]
        merged = merge_overlapping(join_lines(text, decided))
        reason = self.block_reason(merged)
        if reason is not None:
            return Outcome(OutcomeAction.BLOCK, self.config.block_message, tuple(merged), reason)
        numbering = numbering if numbering is not None else Numbering()
        pieces: list[str] = []
        final: list[Finding] = []
        cursor = 0
        for finding in merged:
            value = text[finding.start : finding.end]
            replacement = self.replacement(finding, value, numbering)
            if replacement is not None:
                pieces.append(text[cursor : finding.start])
                pieces.append(replacement)
                cursor = finding.end
            final.append(finding.decided(finding.action, replacement))
        pieces.append(text[cursor:])
        changed = any(f.replacement is not None for f in final)
        action = OutcomeAction.REDACT if changed else OutcomeAction.PASS
        return Outcome(action, "".join(pieces), tuple(final))

    def block_reason(self, findings: list[Finding]) -> str | None:
        """Why these findings block the whole response, or ``None``."""
        for finding in findings:
            if finding.action is Action.BLOCK:
                return f"action:{finding.label}"
            # Any member's label counts: merging a PERSON into a memorized passage must
            # not hide a label the response is blocked on.
            for label in finding.labels:
                if label in self.config.block_on_labels:
                    return f"label:{label}"
        limit = self.config.max_findings
        if limit is not None and len(findings) > limit:
            return f"max_findings:{limit}"
        return None

    def replacement(self, finding: Finding, value: str, numbering: Numbering) -> str | None:
        """The text written in place of ``value``; ``None`` keeps it (allow)."""
        cfg = self.config
        match finding.action:
            case Action.ALLOW | None:
                return None
            case Action.MASK:
                keep = min(cfg.mask_keep_last, len(value) // 2)
                return cfg.mask_char * (len(value) - keep) + (value[-keep:] if keep else "")
            case Action.HASH:
                assert self._hash_key is not None  # checked in __init__
                digest = keyed_fingerprint(
                    self._hash_key, finding.label, value, length=cfg.hash_length
                )
                return f"<{finding.label}:{digest}>"
            case _:  # REDACT (BLOCK never reaches here: it blocks the response)
                if cfg.numbered_placeholders:
                    n = numbering.number(finding.label, value)
                    return cfg.numbered_placeholder.format(label=finding.label, n=n)
                return cfg.placeholder.format(label=finding.label, n="")
