"""The artifacts an evidence package is built from, and the configs among them.

``--config`` takes both kinds of YAML file: guard configs (joined to the log by their
fingerprint) and DP job configs (joined to a DP run's privacy report by its fingerprint,
which says what the run trained on). A file is a DP job when its top level has ``data``
and ``privacy`` or ``training`` sections, which a guard config never has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.audit.chain import AuditKey, resolve_audit_key
from leakguard.config import AuditConfig, LeakGuardConfig, config_fingerprint, read_yaml
from leakguard.exceptions import ConfigError

__all__ = ["EvidenceInputs", "LoadedConfigs", "load_configs"]


@dataclass(frozen=True, slots=True)
class EvidenceInputs:
    """What ``leakguard evidence`` reads. Every path is hashed into ``manifest.json``."""

    audit_logs: tuple[Path, ...]
    sanitize_runs: tuple[Path, ...] = ()
    dp_runs: tuple[Path, ...] = ()
    indexes: tuple[Path, ...] = ()
    configs: tuple[Path, ...] = ()
    probes: tuple[Path, ...] = ()  # 'leakguard dp probe' results (probe.json or its folder)

    def __post_init__(self) -> None:
        if not self.audit_logs:
            raise ConfigError("give the redaction log with --audit-log (a directory or database)")
        for role, paths in self.roles():
            for path in paths:
                if not os.path.exists(path):
                    raise ConfigError(f"{role} {str(path)!r} does not exist")

    def roles(self) -> list[tuple[str, tuple[Path, ...]]]:
        return [
            ("--audit-log", self.audit_logs),
            ("--sanitize-run", self.sanitize_runs),
            ("--dp-run", self.dp_runs),
            ("--index", self.indexes),
            ("--config", self.configs),
            ("--probe", self.probes),
        ]

    def to_dict(self) -> dict[str, list[str]]:
        return {role.lstrip("-"): [str(p) for p in paths] for role, paths in self.roles()}


@dataclass(frozen=True, slots=True)
class LoadedConfigs:
    guard: dict[str, tuple[str, LeakGuardConfig]] = field(default_factory=dict)
    dp: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def audit_key(self) -> AuditKey:
        """The audit key: from the first guard config that names one, else the default
        environment variable (``LEAKGUARD_AUDIT_KEY``)."""
        for _, config in self.guard.values():
            audit = config.audit
            env = audit.fingerprint_key_env
            if audit.fingerprint_key is not None or (env and os.environ.get(env)):
                return resolve_audit_key(audit)
        return resolve_audit_key(AuditConfig())


def _is_dp_job(data: object) -> bool:
    return isinstance(data, dict) and "data" in data and bool({"privacy", "training"} & set(data))


def load_configs(paths: tuple[Path, ...]) -> LoadedConfigs:
    from leakguard.config import parse_config

    guard: dict[str, tuple[str, LeakGuardConfig]] = {}
    dp: dict[str, tuple[str, Any]] = {}
    for path in paths:
        data = read_yaml(path)
        if _is_dp_job(data):
            from leakguard.dp.config import load_dp_config

            job = load_dp_config(path)
            # leakguard.dp.jobs.job_fingerprint is config_fingerprint (jobs imports torch).
            dp[config_fingerprint(job)] = (str(path), job)
        else:
            config = parse_config(data if data is not None else {}, source=str(path))
            guard[config_fingerprint(config)] = (str(path), config)
    return LoadedConfigs(guard, dp)
