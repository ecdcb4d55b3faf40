"""One shard of a corpus sanitizing run: the task a worker process (or Dask worker) runs.

Per shard::

    read_shard ─► batches of records ─► BatchPIIDetector ─► CorpusPolicy.decide
               ─► sanitized records, same format ─► temp file ─► rename (atomic)
               ─► rejects (where, why; never the text) ─► done marker (the shard's counts)

Redacted values become corpus-wide pseudonyms or fakes (:mod:`leakguard.sanitize.pseudonyms`);
``mask``/``hash``/``allow`` work as in the online guard; a record the policy would block
(``block`` action, ``block_on_labels``, ``max_findings``) is withheld and listed as a
reject. JSON Lines records keep every byte outside the text field; records without
findings are copied byte for byte.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO, Any, cast

from leakguard._files import write_atomically
from leakguard.config import LeakGuardConfig, PolicyConfig
from leakguard.corpus import Format, Record, Shard, read_shard
from leakguard.events import context_snippet
from leakguard.exceptions import ConfigError
from leakguard.findings import Action, Finding, Outcome
from leakguard.pii.deobfuscate import OBFUSCATION_KEY, deobfuscate
from leakguard.policy import Numbering, Policy
from leakguard.sanitize.pseudonyms import Pseudonymizer, build_pseudonymizer, key_check
from leakguard.sanitize.report import write_json_atomically

__all__ = [
    "CorpusPolicy",
    "RecordSanitizer",
    "ShardReport",
    "ShardTask",
    "reject_code",
    "sanitize_shard",
    "splice_field",
]

logger = logging.getLogger(__name__)

# Reject reasons from the reader and from this module, by the code the report counts.
_REJECT_CODES = (
    ("undecodable", "undecodable"),
    ("invalid JSON", "invalid_json"),
    ("not a JSON object", "not_an_object"),
    ("missing field", "missing_field"),
    ("field ", "field_not_text"),
    ("line longer", "over_size"),
    ("record longer", "over_size"),
    ("broken gzip", "broken_gzip"),
    ("unreadable", "unreadable"),
    ("detector error", "detector_error"),
    ("blocked by policy", "blocked_by_policy"),
)


def reject_code(reason: str) -> str:
    """The short, countable class of a reject reason."""
    return next((code for prefix, code in _REJECT_CODES if reason.startswith(prefix)), "other")


# --- the pure part: detection and policy over batches of texts ---------------------------


class CorpusPolicy(Policy):
    """The configured policy, with ``redact`` giving corpus-wide pseudonyms (or fakes)
    instead of per-response placeholders."""

    def __init__(
        self, config: PolicyConfig, *, pseudonymize: Pseudonymizer, hash_key: bytes | None = None
    ) -> None:
        super().__init__(config, hash_key=hash_key)
        self._pseudonymize = pseudonymize

    def replacement(self, finding: Finding, value: str, numbering: Numbering) -> str | None:
        if finding.action is Action.REDACT:
            if OBFUSCATION_KEY in finding.details:  # one pseudonym however it was written
                value = deobfuscate(value).text
            return self._pseudonymize(finding.label, value)
        return super().replacement(finding, value, numbering)


class RecordSanitizer:
    """Batch detection plus policy: one per worker process (it holds the spaCy pipeline)."""

    def __init__(
        self, config: LeakGuardConfig, *, key: bytes, hash_key: bytes | None = None
    ) -> None:
        from leakguard.pii.batch import BatchPIIDetector
        from leakguard.pii.detector import PIIDetector

        if not config.pii.enabled:
            raise ConfigError("pii.enabled is false: the sanitizer would remove nothing")
        sanitize = config.sanitize
        self.batch = BatchPIIDetector(
            PIIDetector(config.pii),
            batch_size=sanitize.batch_size,
            name_min_letters=sanitize.name_min_letters,
        )
        self.policy = CorpusPolicy(
            config.policy, pseudonymize=build_pseudonymizer(sanitize, key), hash_key=hash_key
        )

    def sanitize(self, texts: Sequence[str]) -> list[Outcome | Exception]:
        """An outcome per text, or the exception detection raised on that text."""
        detected: list[list[Finding] | Exception]
        try:
            detected = list(self.batch.detect_batch(texts))
        except Exception:
            # Find the text that fails; the others of the batch still get their outcome.
            detected = [self._detect_one(text) for text in texts]
        return [
            found if isinstance(found, Exception) else self.policy.decide(text, found)
            for text, found in zip(texts, detected, strict=True)
        ]

    def _detect_one(self, text: str) -> list[Finding] | Exception:
        try:
            return self.batch.detect_batch([text])[0]
        except Exception as exc:
            return exc


_SANITIZERS: dict[tuple[str, str, str], RecordSanitizer] = {}
_SANITIZERS_LOCK = threading.Lock()


def _worker_sanitizer(
    config: LeakGuardConfig, key: bytes, hash_key: bytes | None = None
) -> RecordSanitizer:
    """One sanitizer per worker process and config: models load once, not per shard."""
    cache_key = (config.model_dump_json(), key_check(key), key_check(hash_key or b""))
    with _SANITIZERS_LOCK:
        sanitizer = _SANITIZERS.get(cache_key)
        if sanitizer is None:
            sanitizer = RecordSanitizer(config, key=key, hash_key=hash_key)
            _SANITIZERS[cache_key] = sanitizer
    return sanitizer


# --- JSON Lines: change one field, keep every other byte ------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def splice_field(line: str, field: str, value: str) -> str:
    """``line`` (one JSON object) with the top-level string ``field`` set to ``value``.

    Everything else (other fields, key order, spacing, escapes, the line break) stays
    byte-identical. With duplicate keys, the last one is changed (the one ``json.loads``
    reads). Raises ``ValueError`` if ``line`` is not an object with that field.
    """
    span: tuple[int, int] | None = None
    pos = _WS.match(line, 1 if line.startswith("\ufeff") else 0).end()  # type: ignore[union-attr]
    if not line.startswith("{", pos):
        raise ValueError("not a JSON object")
    pos = _WS.match(line, pos + 1).end()  # type: ignore[union-attr]
    while not line.startswith("}", pos):
        if not line.startswith('"', pos):
            raise ValueError(f"expected a key at column {pos + 1}")
        key, pos = scanstring(line, pos + 1)
        pos = _WS.match(line, pos).end()  # type: ignore[union-attr]
        if not line.startswith(":", pos):
            raise ValueError(f"expected ':' at column {pos + 1}")
        pos = _WS.match(line, pos + 1).end()  # type: ignore[union-attr]
        _, end = _DECODER.raw_decode(line, pos)
        if key == field:
            span = (pos, end)
        pos = _WS.match(line, end).end()  # type: ignore[union-attr]
        if line.startswith(",", pos):
            pos = _WS.match(line, pos + 1).end()  # type: ignore[union-attr]
    if span is None:
        raise ValueError(f"no field {field!r}")
    return line[: span[0]] + json.dumps(value, ensure_ascii=False) + line[span[1] :]


# --- one shard ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardTask:
    """Everything a worker needs for one shard. Picklable; paths are absolute."""

    shard: Shard
    name: str  # the sanitized shard's path relative to the output directory
    output: str  # the sanitized shard
    rejects: str  # its rejects (JSON Lines), written only when there are any
    marker: str  # the done marker: the shard's report, written last
    tmp_dir: str  # same file system as the outputs, so renames are atomic
    config: LeakGuardConfig
    key: bytes = field(repr=False)
    # The policy's `hash` key, resolved where the run starts (workers may lack the env var).
    hash_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ShardReport:
    """What one shard did: counts, timing, samples (placeholders only, never values)."""

    shard_id: str
    source: str
    output: str  # relative to the output directory
    records_in: int = 0
    records_out: int = 0
    rejected: int = 0
    changed: int = 0  # written records with at least one replaced value
    chars: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    findings: dict[str, int] = field(default_factory=dict)  # per label
    actions: dict[str, int] = field(default_factory=dict)  # per action
    rejects: dict[str, int] = field(default_factory=dict)  # per reject code
    samples: dict[str, list[str]] = field(default_factory=dict)  # per label
    resumed: bool = False  # done by an earlier run, not redone

    def to_dict(self) -> dict[str, Any]:
        return {
            "shard_id": self.shard_id,
            "source": self.source,
            "output": self.output,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "rejected": self.rejected,
            "changed": self.changed,
            "chars": self.chars,
            "bytes_in": self.bytes_in,
            "seconds": round(self.seconds, 3),
            "findings": dict(sorted(self.findings.items())),
            "actions": dict(sorted(self.actions.items())),
            "rejects": dict(sorted(self.rejects.items())),
            "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardReport:
        return cls(**data)


class _Tally:
    """Mutable counters while a shard runs."""

    def __init__(self, samples_per_label: int) -> None:
        self.records_in = self.records_out = self.rejected = self.changed = self.chars = 0
        self.findings: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.samples: dict[str, list[str]] = {}
        self._samples_per_label = samples_per_label

    def sample(self, text: str, findings: Sequence[Finding]) -> None:
        for i, finding in enumerate(findings):
            kept = self.samples.setdefault(finding.label, [])
            if len(kept) < self._samples_per_label:
                kept.append(context_snippet(text, findings, i))


class _RejectLog:
    """The shard's rejects file, opened on the first reject. Where and why, never the text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def write(self, record: Record, reason: str, *, size: int) -> None:
        if self._file is None:
            self._file = self.path.open("w", encoding="utf-8")
        entry = {
            "source": record.source,
            "line": record.line,
            "part": record.part,
            "code": reject_code(reason),
            "reason": reason,
            "bytes": size,
        }
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> bool:
        """Close; whether anything was written."""
        if self._file is None:
            return False
        self._file.close()
        return True


@contextmanager
def _open_output(path: Path, *, compressed: bool) -> Iterator[IO[bytes]]:
    with path.open("wb") as raw:
        if not compressed:
            yield raw
            return
        # mtime=0 and no name in the header: the same input gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            yield cast(IO[bytes], gz)


class _ShardProgress:
    """How far a running shard has read, for the run's progress line: written to a small
    file at most once a second (see ``leakguard.sanitize.run``). Bytes of the records read,
    uncompressed: a gzip shard reports nothing until it is done (its ETA counts it whole)."""

    def __init__(self, path: Path, *, compressed: bool) -> None:
        self._path = path
        self._enabled = not compressed
        self._bytes = 0
        self._written = time.monotonic()

    def read(self, batch: list[Record]) -> None:
        if not self._enabled:
            return
        self._bytes += sum(
            len(r.raw) if r.raw is not None else len((r.text or "").encode()) + 1 for r in batch
        )
        now = time.monotonic()
        if now - self._written >= 1.0:
            self._written = now
            write_atomically(self._path, str(self._bytes))

    def close(self) -> None:
        self._path.unlink(missing_ok=True)


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def sanitize_shard(task: ShardTask) -> ShardReport:
    """Sanitize one shard into its output file; return its report. Runs in any worker."""
    started = time.perf_counter()
    shard, settings = task.shard, task.config.sanitize
    sanitizer = _worker_sanitizer(task.config, task.key, task.hash_key)
    tally = _Tally(settings.report_samples)
    tmp_dir = Path(task.tmp_dir)
    tmp_out = tmp_dir / f"{shard.id}.{os.getpid()}.{threading.get_ident()}.out"
    rejects = _RejectLog(tmp_out.with_suffix(".rejects"))
    progress = _ShardProgress(tmp_dir / f"{shard.id}.progress", compressed=shard.compressed)
    try:
        with _open_output(tmp_out, compressed=shard.compressed) as out:
            for batch in _batches(read_shard(shard), settings.batch_size):
                _sanitize_batch(
                    batch, sanitizer=sanitizer, out=out, rejects=rejects, tally=tally, task=task
                )
                progress.read(batch)
    finally:
        had_rejects = rejects.close()
        progress.close()
    Path(task.output).parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_out, task.output)
    if had_rejects:
        Path(task.rejects).parent.mkdir(parents=True, exist_ok=True)
        os.replace(rejects.path, task.rejects)
    else:
        Path(task.rejects).unlink(missing_ok=True)
    report = ShardReport(
        shard_id=shard.id,
        source=shard.path,
        output=task.name,
        records_in=tally.records_in,
        records_out=tally.records_out,
        rejected=tally.rejected,
        changed=tally.changed,
        chars=tally.chars,
        bytes_in=shard.nbytes,
        seconds=time.perf_counter() - started,
        findings=dict(tally.findings),
        actions=dict(tally.actions),
        rejects=dict(tally.rejects),
        samples=tally.samples,
    )
    write_json_atomically(Path(task.marker), report.to_dict(), tmp_dir=tmp_dir)
    return report


def _sanitize_batch(
    batch: list[Record],
    *,
    sanitizer: RecordSanitizer,
    out: IO[bytes],
    rejects: _RejectLog,
    tally: _Tally,
    task: ShardTask,
) -> None:
    limit = task.config.sanitize.max_record_chars
    scannable: list[Record] = []
    for record in batch:
        tally.records_in += 1
        if record.text is None:
            _reject(record, record.reject or "unreadable record", rejects, tally)
        elif len(record.text) > limit:
            _reject(record, f"record longer than {limit} characters", rejects, tally)
        else:
            scannable.append(record)
    outcomes = sanitizer.sanitize([r.text for r in scannable if r.text is not None])
    for record, outcome in zip(scannable, outcomes, strict=True):
        assert record.text is not None
        if isinstance(outcome, Exception):
            _reject(record, f"detector error ({type(outcome).__name__})", rejects, tally)
            continue
        for finding in outcome.findings:
            tally.findings.update(finding.labels)  # each label of a merged span once
            tally.actions[finding.action.value if finding.action else "none"] += 1
        if outcome.blocked:
            _reject(record, f"blocked by policy ({outcome.reason})", rejects, tally)
            continue
        try:
            data = _encode(record, outcome, task.shard)
        except ValueError as exc:
            _reject(record, f"invalid JSON (cannot rewrite the field: {exc})", rejects, tally)
            continue
        out.write(data)
        tally.records_out += 1
        tally.chars += len(record.text)
        if outcome.text != record.text:
            tally.changed += 1
        if outcome.findings:
            tally.sample(record.text, outcome.findings)


def _reject(record: Record, reason: str, rejects: _RejectLog, tally: _Tally) -> None:
    size = len(record.raw) if record.raw is not None else len((record.text or "").encode())
    rejects.write(record, reason, size=size)
    tally.rejected += 1
    tally.rejects[reject_code(reason)] += 1


def _encode(record: Record, outcome: Outcome, shard: Shard) -> bytes:
    """The record as it goes into the sanitized shard, in its input format."""
    if record.format is Format.TEXT:
        return outcome.text.encode("utf-8")
    assert record.raw is not None
    if outcome.text == record.text:
        return record.raw  # untouched: byte for byte
    line = record.raw.decode("utf-8")
    return splice_field(line, shard.field, outcome.text).encode("utf-8")
