"""False-positive verdicts become a fingerprint allow-list the guard honours."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from leakguard.audit.chain import AuditKey
from leakguard.audit.report import allowlist_yaml, latest_verdicts
from leakguard.exceptions import ConfigError
from leakguard.guard import Guard

KEY = "report-test-key-0123456789abcdef"
PATTERN_ONLY = {"spacy_model": "none", "entities": ["EMAIL_ADDRESS"]}


def verdict(fp: str, kind: str, ts: str, *, seq: int = 1) -> dict[str, object]:
    return {
        "kind": "verdict",
        "ts": ts,
        "target": {"stream": "s", "seq": seq},
        "finding": 0,
        "verdict": kind,
        "findings": [{"label": "EMAIL_ADDRESS", "fingerprint": fp}],
    }


def test_the_latest_verdict_on_a_finding_stands() -> None:
    records = [
        verdict("a" * 16, "false_positive", "2026-01-01T00:00:00Z"),
        verdict("a" * 16, "confirmed_leak", "2026-01-02T00:00:00Z"),
        verdict("b" * 16, "false_positive", "2026-01-03T00:00:00Z", seq=2),
    ]
    assert [v["verdict"] for v in latest_verdicts(records).values()] == [
        "confirmed_leak",
        "false_positive",
    ]
    snippet = yaml.safe_load(allowlist_yaml(records))
    assert snippet == {"pii": {"allow_fingerprints": ["b" * 16]}}


def test_an_allowed_fingerprint_is_no_longer_flagged_and_others_still_are(
    make_guard: Callable[..., Guard],
) -> None:
    fp = AuditKey(KEY.encode()).fingerprint("EMAIL_ADDRESS", "Support@Shop.example")
    snippet = yaml.safe_load(allowlist_yaml([verdict(fp, "false_positive", "2026-01-01")]))
    guard = make_guard(
        {
            "pii": PATTERN_ONLY | snippet["pii"],
            "audit": {"fingerprint_key": KEY},
        }
    )
    outcome = guard.scan("write to support@shop.example or to jane@corp.io")
    assert outcome.text == "write to support@shop.example or to <EMAIL_ADDRESS>"


def test_allow_fingerprints_without_the_audit_key_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, make_guard: Callable[..., Guard]
) -> None:
    monkeypatch.delenv("LEAKGUARD_AUDIT_KEY", raising=False)
    with pytest.raises(ConfigError, match="fingerprint key"):
        make_guard({"pii": PATTERN_ONLY | {"allow_fingerprints": ["c" * 16]}})
