"""Controls in place: what each guard configuration seen in the period does, and when it
changed.

Records carry the fingerprint of the guard configuration that produced them
(``policy_version``, :func:`leakguard.config.config_fingerprint`); the configs given with
``--config`` are fingerprinted the same way and joined to them. A fingerprint in the log
that no given config has is flagged: the period ran controls nobody can show. Raw values a
config may hold (allow and deny lists) are never copied: their sizes only, and the keyed
fingerprints of the allow list.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from leakguard.audit.evidence.logpass import LogTally
from leakguard.audit.evidence.schema import Flag
from leakguard.config import LeakGuardConfig, config_fingerprint

__all__ = ["controls_section", "describe_config"]


def describe_config(config: LeakGuardConfig) -> dict[str, Any]:
    """The settings an auditor asks about, PII-free."""
    pii, policy, online, mem = config.pii, config.policy, config.online, config.memorization
    return {
        "detectors": {
            "pii": {
                "enabled": pii.enabled,
                "spacy_model": pii.spacy_model,
                "entities": list(pii.entities),
                "score_threshold": pii.score_threshold,
                "thresholds": dict(sorted(pii.thresholds.items())),
                "custom_recognizers": [r.name for r in pii.recognizers],
                "allow_list_entries": len(pii.allow_list),
                "allow_patterns": len(pii.allow_patterns),
                "allow_fingerprints": sorted(pii.allow_fingerprints),
                "deny_list_entries": {k: len(v) for k, v in sorted(pii.deny_lists.items())},
            },
            "memorization": {
                "enabled": mem.index is not None,
                "index": mem.index,
                "ngram": mem.ngram,
                "min_words": mem.min_words,
                "near_verbatim": mem.near_verbatim,
                "label": mem.label,
            },
        },
        "policy": {
            "default_action": policy.default_action.value,
            "actions": {k: v.value for k, v in sorted(policy.actions.items())},
            "block_on_labels": list(policy.block_on_labels),
            "max_findings": policy.max_findings,
            "on_detector_error": policy.on_detector_error,
        },
        "fail_closed": {
            "on_unscannable": online.on_unscannable,
            "on_failure": online.on_failure,
            "on_hold_overflow": online.on_hold_overflow,
            "scan_timeout_s": online.scan_timeout_s,
        },
        "bounds": {
            "hold_back_chars": online.hold_back_chars,
            "max_hold_chars": online.max_hold_chars,
            "max_body_bytes": online.max_body_bytes,
            "max_frame_bytes": online.max_frame_bytes,
            "max_evidence": online.max_evidence,
            "max_concurrent_scans": online.max_concurrent_scans,
        },
        "routes": [
            {"path": r.path, "guard": r.guard, "policy_overrides": sorted(r.policy)}
            for r in online.routes
        ],
        "audit": {"record": config.audit.record, "context": config.audit.context},
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out |= _flatten(sub, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    a, b = _flatten(old), _flatten(new)
    rows: list[dict[str, Any]] = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            if name.endswith("allow_fingerprints"):
                before, after = set(a.get(name) or ()), set(b.get(name) or ())
                rows.append(
                    {
                        "setting": name,
                        "added": sorted(after - before),
                        "removed": sorted(before - after),
                    }
                )
            else:
                rows.append({"setting": name, "from": a.get(name), "to": b.get(name)})
    return rows


def controls_section(
    configs: dict[str, tuple[str, LeakGuardConfig]], tally: LogTally
) -> tuple[dict[str, Any], list[Flag], list[dict[str, Any]]]:
    """(section, flags, allow-list changes). ``configs``: fingerprint → (path, config)."""
    flags: list[Flag] = []
    described = {fp: describe_config(cfg) for fp, (_, cfg) in configs.items()}
    in_use = sorted(tally.configs.items(), key=lambda item: (item[1].first, item[0]))
    rows = []
    for fingerprint, usage in in_use:
        path = configs.get(fingerprint, (None, None))[0]
        rows.append(
            {
                "fingerprint": fingerprint,
                "config_file": path,
                "used": usage.to_dict(),
                "routes": dict(sorted(tally.config_routes.get(fingerprint, {}).items())),
                "settings": described.get(fingerprint),
            }
        )
    unknown = [fp for fp, _ in in_use if fp not in configs]
    for fingerprint in unknown:
        usage = tally.configs[fingerprint]
        flags.append(
            Flag(
                "warning",
                "controls",
                "config_unknown",
                f"{usage.records:,} records from {usage.first} to {usage.last} were guarded by "
                f"config {fingerprint}, and no --config given has that fingerprint: pass the "
                "config file that was deployed then",
            )
        )
    changes, allow_changes = [], []
    for (old_fp, _), (new_fp, usage) in pairwise(in_use):
        diff = None
        if old_fp in described and new_fp in described:
            diff = _changed(described[old_fp], described[new_fp])
            for row in diff:
                if row["setting"].endswith("allow_fingerprints"):
                    allow_changes.append({"ts": usage.first, "config": new_fp, **row})
        changes.append({"ts": usage.first, "from": old_fp, "to": new_fp, "changed": diff})
    given = [
        {"fingerprint": fp, "config_file": path, "seen_in_period": fp in tally.configs}
        for fp, (path, _) in sorted(configs.items())
    ]
    section = {
        "configs": rows,
        "changes": changes,
        "unknown_fingerprints": unknown,
        "given": given,
    }
    return section, flags, allow_changes


def fingerprint_of(config: LeakGuardConfig) -> str:
    return config_fingerprint(config)
