"""Evidence packages built by the review page: one at a time, in a worker thread.

The page may only build from what its server was started with (:class:`EvidenceSources`:
the log it reviews, and the ``--sanitize-run``, ``--dp-run``, ``--index``, ``--probe`` and
``--evidence-config`` paths of ``leakguard review``); the browser picks among them by id,
never by path. Each finished package is also zipped (one folder: the package directory
with its manifest), so it verifies after unzipping with ``leakguard evidence verify``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from leakguard.audit.chain import AuditKey, utc_now
from leakguard.audit.evidence.inputs import EvidenceInputs
from leakguard.audit.evidence.schema import Period
from leakguard.exceptions import ConfigError, LeakGuardError

__all__ = [
    "DEFAULT_DAYS",
    "Choice",
    "EvidenceJob",
    "EvidenceJobs",
    "EvidenceSources",
    "default_period",
]

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 90  # the form's default period: the last 90 days of the log
KEEP_JOBS = 50  # packages listed on the page; older ones are forgotten (temp ones deleted)
State = Literal["building", "ready", "failed"]


@dataclass(frozen=True, slots=True)
class Choice:
    """One optional input the page offers: ``id`` is what the form sends."""

    id: str
    role: str
    path: Path


@dataclass(frozen=True, slots=True)
class EvidenceSources:
    """The log under review and the artifacts ``leakguard review`` was started with."""

    audit_log: Path
    sanitize_runs: tuple[Path, ...] = ()
    dp_runs: tuple[Path, ...] = ()
    indexes: tuple[Path, ...] = ()
    configs: tuple[Path, ...] = ()
    probes: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        self.inputs([c.id for c in self.choices()])  # every path exists, at start-up

    def choices(self) -> list[Choice]:
        groups = (
            ("sanitize-run", self.sanitize_runs),
            ("dp-run", self.dp_runs),
            ("index", self.indexes),
            ("config", self.configs),
            ("probe", self.probes),
        )
        return [
            Choice(f"{role}-{i}", role, path)
            for role, paths in groups
            for i, path in enumerate(paths)
        ]

    def inputs(self, chosen: Collection[str]) -> EvidenceInputs:
        """The package's inputs: the log and the choices named in ``chosen``."""
        offered = {c.id: c for c in self.choices()}
        unknown = sorted(set(chosen) - set(offered))
        if unknown:
            raise ConfigError(
                f"unknown input {unknown[0]!r}: pick among the inputs the server was started "
                "with (reload the page)"
            )
        picked = [offered[i] for i in offered if i in chosen]

        def paths(role: str) -> tuple[Path, ...]:
            return tuple(c.path for c in picked if c.role == role)

        return EvidenceInputs(
            audit_logs=(self.audit_log,),
            sanitize_runs=paths("sanitize-run"),
            dp_runs=paths("dp-run"),
            indexes=paths("index"),
            configs=paths("config"),
            probes=paths("probe"),
        )


def default_period(first_ts: str | None, last_ts: str | None) -> tuple[str, str]:
    """The form's default: the last :data:`DEFAULT_DAYS` days up to the log's last event
    (not before its first); the last 90 days up to today for a log without events."""
    last = date.fromisoformat(last_ts[:10]) if last_ts else date.fromisoformat(utc_now()[:10])
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first_ts:
        first = max(first, date.fromisoformat(first_ts[:10]))
    return first.isoformat(), last.isoformat()


@dataclass(slots=True)
class EvidenceJob:
    """One package the page builds or built. Mutated only by its worker thread until
    ``state`` leaves ``building``."""

    id: str
    period: Period
    reviewer: str
    inputs: EvidenceInputs
    directory: Path
    archive: Path
    started: str = field(default_factory=utc_now)
    state: State = "building"
    error: str | None = None
    finished: str | None = None
    guarded: int = 0
    anchor: str = ""
    flags: list[dict[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def errors(self) -> int:
        return sum(f["severity"] == "error" for f in self.flags)


class EvidenceJobs:
    """Builds packages into ``root`` (a temporary directory, removed by :meth:`close`,
    unless given) one at a time, off the event loop."""

    def __init__(
        self, sources: EvidenceSources, *, key: AuditKey, root: str | Path | None = None
    ) -> None:
        self.sources = sources
        self._key = key
        self._owned = root is None
        self.root = (
            Path(tempfile.mkdtemp(prefix="leakguard-evidence-")) if root is None else Path(root)
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, EvidenceJob] = {}
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def kept(self) -> bool:
        """Whether packages outlive the server (``--evidence-dir``)."""
        return not self._owned

    def jobs(self) -> list[EvidenceJob]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def get(self, job_id: str) -> EvidenceJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(
        self, period: Period, chosen: Collection[str], *, reviewer: str, sample: int = 25
    ) -> EvidenceJob:
        """Start building; a :class:`ConfigError` when one is being built already."""
        inputs = self.sources.inputs(chosen)
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.state == "building"), None)
            if busy is not None:
                raise ConfigError(
                    f"the package for {busy.period.first_day} to {busy.period.last_day} is "
                    "still being built: wait until it is ready, then start the next"
                )
            job_id = secrets.token_hex(8)
            name = f"leakguard-evidence-{period.first_day}_{period.last_day}"
            job = EvidenceJob(
                id=job_id,
                period=period,
                reviewer=reviewer,
                inputs=inputs,
                directory=self.root / job_id / name,
                archive=self.root / job_id / f"{name}.zip",
            )
            self._jobs[job_id] = job
            self._forget_old()
            self._worker = threading.Thread(
                target=self._build, args=(job, sample), name="leakguard-evidence", daemon=True
            )
            self._worker.start()
        return job

    def _forget_old(self) -> None:
        while len(self._jobs) > KEEP_JOBS:
            oldest = next(iter(self._jobs.values()))
            if oldest.state == "building":
                return
            del self._jobs[oldest.id]
            if self._owned:
                shutil.rmtree(self.root / oldest.id, ignore_errors=True)

    def _build(self, job: EvidenceJob, sample: int) -> None:
        from leakguard.audit.evidence.package import build_evidence

        outcome: dict[str, Any] = {}
        try:
            result = build_evidence(
                job.inputs, period=job.period, out=job.directory, key=self._key, sample_size=sample
            )
            _zip(job.directory, job.archive)
            outcome = {
                "state": "ready",
                "guarded": int(result.evidence["operation"]["guarded"]),
                "anchor": str(result.evidence["integrity"]["anchor"]["digest"]),
                "flags": [f.to_dict() for f in result.flags],
            }
        except LeakGuardError as exc:  # a precise message, shown on the page
            outcome = {"state": "failed", "error": str(exc)}
        except Exception as exc:
            logger.exception("evidence package %s could not be built", job.id)
            outcome = {
                "state": "failed",
                "error": f"the package could not be built ({type(exc).__name__}); the server "
                "log has the details",
            }
        with self._lock:
            for name, value in outcome.items():
                setattr(job, name, value)
            job.finished = utc_now()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the build in progress (if any)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Wait for a build in progress; remove the temporary directory (if owned)."""
        self.wait(timeout)
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)


def _zip(directory: Path, archive: Path) -> None:
    """``directory`` as one folder of the same name in ``archive`` (written atomically)."""
    tmp = archive.with_name(f".{archive.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for file in sorted(directory.iterdir()):
            out.write(file, f"{directory.name}/{file.name}")
    tmp.replace(archive)
