"""Strip personal data from a training corpus, shard by shard (``leakguard sanitize``).

Per shard (one task, run in any worker process or on a Dask worker)::

    read_shard ─► batches of records ─► BatchPIIDetector ─► CorpusPolicy.decide
               ─► sanitized records, same format ─► temp file ─► rename (atomic)
               ─► rejects (where, why; never the text) ─► done marker (the shard's counts)

Redacted values become corpus-wide pseudonyms or fakes (:mod:`leakguard.sanitize.pseudonyms`);
``mask``/``hash``/``allow`` work as in the online guard; a record the policy would block
(``block`` action, ``block_on_labels``, ``max_findings``) is withheld and listed as a
reject. JSON Lines records keep every byte outside the text field; records without
findings are copied byte for byte.

Every input record ends up written or rejected, and the manifest counts add up
(``records_in == records_out + rejected`` per shard). A shard's output and its done
marker are renamed into place only when the shard is complete, so a killed run leaves
no half-written file behind, and a rerun with the same ``--out`` skips finished shards.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO, Any, cast

from leakguard.config import LeakGuardConfig, PolicyConfig, config_fingerprint
from leakguard.corpus import Format, Record, Shard, plan_shards, read_shard
from leakguard.events import EventSink, context_snippet
from leakguard.exceptions import ConfigError, CorpusError, LeakGuardError
from leakguard.executors import Completed, cpu_workers, run_tasks
from leakguard.findings import Action, Finding, Outcome
from leakguard.policy import Numbering, Policy, resolve_hash_key
from leakguard.sanitize.pseudonyms import Pseudonymizer, build_pseudonymizer, key_check
from leakguard.sanitize.report import run_event, sum_counts, write_json_atomically, write_run_files

__all__ = [
    "CorpusPolicy",
    "Progress",
    "RecordSanitizer",
    "RunSummary",
    "ShardReport",
    "ShardTask",
    "sanitize_corpus",
    "sanitize_shard",
    "splice_field",
]

logger = logging.getLogger(__name__)

DATA_DIR = "data"
REJECTS_DIR = "rejects"
STATE_DIR = ".leakguard"
_MB = 1024 * 1024

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


def run_fingerprint(config: LeakGuardConfig, *, field: str = "") -> str:
    """What decides a run's output: the guard config plus the sanitizer settings that change
    records (not workers, batch size or the key itself, whose check is kept separately)."""
    sanitize = config.sanitize.model_dump(
        mode="json",
        exclude={"pseudonym_key", "pseudonym_key_env", "workers", "batch_size", "report_samples"},
    )
    payload = {"guard": config_fingerprint(config), "sanitize": sanitize, "field": field}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


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
    try:
        with _open_output(tmp_out, compressed=shard.compressed) as out:
            for batch in _batches(read_shard(shard), settings.batch_size):
                _sanitize_batch(
                    batch, sanitizer=sanitizer, out=out, rejects=rejects, tally=tally, task=task
                )
    finally:
        had_rejects = rejects.close()
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
            tally.findings[finding.label] += 1
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


# --- the whole run ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Handed to the progress callback after every finished shard."""

    shards_done: int
    shards_total: int
    records: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.bytes_done <= 0:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done


@dataclass(frozen=True, slots=True)
class FailedShard:
    shard_id: str
    source: str
    error: str  # exception type (and message for OSError/leakguard errors); never record text


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The result of :func:`sanitize_corpus`; the same numbers are in ``manifest.json``."""

    out_dir: Path
    shards: tuple[ShardReport, ...]
    failed: tuple[FailedShard, ...]
    seconds: float
    audited: bool | None = None  # the redaction-log entry was accepted (None: no sink)

    @property
    def records_in(self) -> int:
        return sum(s.records_in for s in self.shards)

    @property
    def records_out(self) -> int:
        return sum(s.records_out for s in self.shards)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.shards)

    @property
    def resumed(self) -> int:
        return sum(s.resumed for s in self.shards)

    def findings(self) -> dict[str, int]:
        return sum_counts(s.findings for s in self.shards)

    def rejects(self) -> dict[str, int]:
        return sum_counts(s.rejects for s in self.shards)


def output_names(inputs: Sequence[str | Path], shards: Sequence[Shard]) -> dict[str, str]:
    """Shard id → output path relative to ``data/``: the input's own name (a directory
    keeps its name and inner layout); a file cut into several shards gets one part file
    per shard, ``name.part-0002-of-0005.jsonl``, in order."""
    from leakguard.corpus import iter_files

    rel_of: dict[str, str] = {}  # file path -> output path relative to data/
    taken: dict[str, str] = {}  # output path -> the input that writes it
    for item in inputs:
        base = Path(item)
        for path in iter_files([base]):
            rel = (
                Path(base.resolve().name or "root") / path.relative_to(base)
                if base.is_dir()
                else Path(path.name)
            ).as_posix()
            given = taken.setdefault(rel, str(item))
            if given != str(item) or rel_of.get(str(path), rel) != rel:
                raise CorpusError(
                    f"inputs {given!r} and {str(item)!r} would both write {rel!r} "
                    f"under the output directory; rename one or sanitize them separately"
                )
            rel_of[str(path)] = rel
    per_file: dict[str, list[Shard]] = {}
    for shard in shards:
        per_file.setdefault(shard.path, []).append(shard)
    names: dict[str, str] = {}
    for source, parts in per_file.items():
        rel_name = rel_of[source]
        if len(parts) == 1:
            names[parts[0].id] = rel_name
            continue
        stem, dot, suffixes = Path(rel_name).name.partition(".")
        for k, shard in enumerate(parts, start=1):
            part = f"{stem}.part-{k:04d}-of-{len(parts):04d}{dot}{suffixes}"
            names[shard.id] = Path(rel_name).with_name(part).as_posix()
    return names


def sanitize_corpus(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: LeakGuardConfig,
    key: bytes,
    field: str = "text",
    workers: int | None = None,
    dask: str | None = None,
    dask_processes: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
    sink: EventSink | None = None,
) -> RunSummary:
    """Sanitize a corpus into ``out_dir``; resume a run that stopped there.

    ``workers``: local processes (default: the config's ``sanitize.workers``, 0 = all
    cores); ``dask``: ``"local"`` or a scheduler address. Shards that fail (e.g. a full
    disk) are reported in :attr:`RunSummary.failed`; rerunning retries only them. With a
    ``sink`` (the redaction log), the run is recorded there as one ``sanitize`` event with
    its counts (never values); :attr:`RunSummary.audited` says whether the sink took it.
    """
    started = time.perf_counter()
    settings = config.sanitize
    out = Path(out_dir)
    for item in inputs:
        if Path(item).is_dir() and out.resolve().is_relative_to(Path(item).resolve()):
            raise CorpusError(
                f"--out {str(out)!r} is inside the input directory {str(item)!r}: a rerun "
                f"would read the sanitized files as input. Choose a directory outside it."
            )
    shards = plan_shards(
        inputs,
        field=field,
        target_shard_bytes=settings.shard_mb * _MB,
        max_record_bytes=settings.max_record_chars,
    )
    if not shards:
        raise CorpusError("the inputs hold no files to sanitize")
    names = output_names(inputs, shards)
    fingerprint = run_fingerprint(config, field=field)
    hash_key = resolve_hash_key(config.policy)
    _claim_out_dir(out, fingerprint=fingerprint, key=key)
    tmp_dir = out / STATE_DIR / "tmp"
    _clear_tmp(tmp_dir)

    reports: dict[str, ShardReport] = {}
    tasks: list[ShardTask] = []
    for shard in shards:
        marker = out / STATE_DIR / "shards" / f"{shard.id}.json"
        output = out / DATA_DIR / names[shard.id]
        done = _load_marker(marker, output)
        if done is not None:
            reports[shard.id] = replace(done, resumed=True)
            continue
        tasks.append(
            ShardTask(
                shard=shard,
                name=f"{DATA_DIR}/{names[shard.id]}",
                output=str(output.resolve()),
                rejects=str((out / REJECTS_DIR / f"{names[shard.id]}.rejects.jsonl").resolve()),
                marker=str(marker.resolve()),
                tmp_dir=str(tmp_dir.resolve()),
                config=config,
                key=key,
                hash_key=hash_key,
            )
        )

    if tasks:  # fail fast on a bad config or a missing model, before any worker starts
        _worker_sanitizer(config, key, hash_key)
    n_workers = cpu_workers(settings.workers if workers is None else workers)
    failed: list[FailedShard] = []
    bytes_total = sum(s.nbytes for s in shards)
    bytes_done = sum(r.bytes_in for r in reports.values())
    records = 0
    for completed in run_tasks(
        sanitize_shard, tasks, workers=n_workers, dask=dask, dask_processes=dask_processes
    ):
        task = tasks[completed.index]
        bytes_done += task.shard.nbytes
        if completed.result is not None:
            reports[task.shard.id] = completed.result
            records += completed.result.records_in
        else:
            failed.append(_failure(task, completed))
        if on_progress is not None:
            on_progress(
                Progress(
                    shards_done=len(reports) + len(failed),
                    shards_total=len(shards),
                    records=records,
                    bytes_done=bytes_done,
                    bytes_total=bytes_total,
                    elapsed_s=time.perf_counter() - started,
                )
            )
    ordered = tuple(reports[s.id] for s in shards if s.id in reports)
    summary = RunSummary(out, ordered, tuple(failed), time.perf_counter() - started)
    if sink is not None:
        summary = replace(summary, audited=sink.emit(run_event(summary, config, fingerprint)))
    write_run_files(
        summary,
        config=config,
        key=key,
        inputs=inputs,
        field=field,
        fingerprint=fingerprint,
        workers=n_workers,
        dask=dask,
        tmp_dir=tmp_dir,
    )
    return summary


def _failure(task: ShardTask, completed: Completed[ShardReport]) -> FailedShard:
    error = completed.error
    if error is None:
        message = "no result"
    elif isinstance(error, OSError | LeakGuardError):
        # File-system and leakguard errors name paths and settings, never scanned text.
        message = f"{type(error).__name__}: {error}"
    else:
        # Any other exception (e.g. from a third-party recognizer) may quote the record.
        message = type(error).__name__
    logger.error("shard %s (%s) failed: %s", task.shard.id, task.shard.path, message)
    return FailedShard(task.shard.id, task.shard.path, message)


def _claim_out_dir(out: Path, *, fingerprint: str, key: bytes) -> None:
    """Start a run in ``out``, or check that the run already there used the same settings
    and key (mixing them would give one value two pseudonyms)."""
    state = out / STATE_DIR / "run.json"
    wanted = {"run_fingerprint": fingerprint, "key_check": key_check(key)}
    if state.exists():
        try:
            found = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot read {str(state)!r} ({exc}); use a new --out") from None
        for name, value in wanted.items():
            if found.get(name) != value:
                what = "pseudonym key" if name == "key_check" else "configuration or --field"
                raise ConfigError(
                    f"output directory {str(out)!r} holds a run made with another {what} "
                    f"({name} {found.get(name)!r}, now {value!r}); resuming it would mix two "
                    f"sets of pseudonyms. Use a new --out, or the same settings and key."
                )
        return
    if out.exists() and any(out.iterdir()):
        raise CorpusError(
            f"output directory {str(out)!r} is not empty and holds no leakguard run; "
            f"choose an empty or new directory"
        )
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, state)


def _clear_tmp(tmp_dir: Path) -> None:
    """Left-overs of a killed run: partial shard files, never renamed into place."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for leftover in tmp_dir.iterdir():
        if leftover.is_file():
            leftover.unlink()


def _load_marker(marker: Path, output: Path) -> ShardReport | None:
    if not (marker.exists() and output.exists()):
        return None
    try:
        return ShardReport.from_dict(json.loads(marker.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # a damaged marker: redo the shard
