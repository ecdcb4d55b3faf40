"""Redaction-log records and their hash chain: PII-free content, and `verify` on tampering."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakguard.audit.chain import AuditKey, resolve_audit_key
from leakguard.audit.records import record_from_event
from leakguard.audit.sinks import AuditSink, open_sink
from leakguard.audit.verify import verify
from leakguard.config import parse_config
from leakguard.events import ScanEvent, evidence_for
from leakguard.exceptions import ConfigError
from leakguard.findings import Action, Finding, OutcomeAction

KEY = "audit-test-key-0123456789abcdef"
TEXT = "Mail jane.roe@corp.io or call Jane Roe on +1 415 555 0134 today."
VALUES = ("jane.roe@corp.io", "Jane Roe", "+1 415 555 0134")


def findings_of(text: str) -> list[Finding]:
    out = []
    for label, value in zip(("EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"), VALUES, strict=True):
        start = text.index(value)
        out.append(Finding("pii", label, start, start + len(value), 0.85, Action.REDACT))
    return out


def event(n: int = 0, *, text: str = TEXT, tenant: str | None = "tenant-acme") -> ScanEvent:
    found = findings_of(text)
    return ScanEvent(
        source="scan",
        request_id=f"req-{n}",
        action=OutcomeAction.REDACT,
        evidence=evidence_for(text, found),
        policy_version="0123456789abcdef",
        route="/v1/chat/completions",
        model="demo-model",
        tenant=tenant,
        scan_ms=1.5,
        text_chars=len(text),
    )


@pytest.fixture
def make_sink(tmp_path: Path) -> Callable[..., AuditSink]:
    def make(**audit: Any) -> AuditSink:
        audit = {"path": str(tmp_path / "log"), "fingerprint_key": KEY, **audit}
        return open_sink(parse_config({"audit": audit}))

    return make


def write_log(make_sink: Callable[..., AuditSink], n: int, **audit: Any) -> AuditSink:
    sink = make_sink(**audit)
    for i in range(n):
        assert sink.emit(event(i))
    sink.close()
    return sink


def problems(*paths: Path, allow_open: bool = False) -> list[tuple[str, str]]:
    report = verify(paths, key=AuditKey(KEY.encode()), allow_open=allow_open)
    return [(p.kind, Path(p.where.split("#")[0].rsplit(":", 1)[0]).name) for p in report.problems]


def test_a_record_holds_fingerprints_and_redacted_context_but_no_value() -> None:
    key = AuditKey(KEY.encode())
    record = record_from_event(event(), key=key, config=parse_config({}))
    dumped = json.dumps(record)
    for value in (*VALUES, "tenant-acme"):
        assert value not in dumped
    first = record["findings"][0]
    assert first["fingerprint"] == key.fingerprint("EMAIL_ADDRESS", "Jane.Roe@corp.io")
    assert (
        first["context"] == "Mail <EMAIL_ADDRESS> or call <PERSON> on <PHONE_NUMBER>…"
    )  # word cut
    assert (first["label"], first["start"], first["length"], first["threshold"]) == (
        "EMAIL_ADDRESS",
        5,
        16,
        0.4,
    )
    assert record["tenant"] == key.fingerprint("TENANT", "tenant-acme")
    assert {record["route"], record["model"], record["policy_version"]} == {
        "/v1/chat/completions",
        "demo-model",
        "0123456789abcdef",
    }


def test_a_value_left_in_a_context_snippet_is_scrubbed() -> None:
    ev = event()
    leaky = tuple(type(e)(e.finding, e.value, f"x {VALUES[0]} y") for e in ev.evidence)
    record = record_from_event(
        ScanEvent("scan", "r", OutcomeAction.REDACT, leaky, "v"), key=AuditKey(KEY.encode())
    )
    assert {f["context"] for f in record["findings"]} == {"x <EMAIL_ADDRESS> y"}


def test_the_same_value_in_two_spellings_has_one_fingerprint() -> None:
    key = AuditKey(KEY.encode())
    assert key.fingerprint("PERSON", "Jane  ROE") == key.fingerprint("PERSON", "jane roe")
    assert key.fingerprint("PERSON", "jane roe") != AuditKey(b"x" * 32).fingerprint(
        "PERSON", "jane roe"
    )


def test_a_missing_or_short_key_is_a_config_error_that_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEAKGUARD_AUDIT_KEY", raising=False)
    with pytest.raises(ConfigError, match="LEAKGUARD_AUDIT_KEY"):
        resolve_audit_key(parse_config({}).audit)
    monkeypatch.setenv("LEAKGUARD_AUDIT_KEY", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_audit_key(parse_config({}).audit)


def test_an_untouched_rotated_log_verifies(make_sink: Callable[..., AuditSink]) -> None:
    sink = write_log(make_sink, 20, rotate_bytes=4096)
    files = sorted(Path(sink.config.path or "").glob("*.jsonl"))
    assert len(files) >= 3
    report = verify([sink.config.path or ""], key=AuditKey(KEY.encode()))
    assert report.ok, report.problems
    (stream,) = report.streams
    assert (stream.records, stream.segments, stream.sealed) == (20, len(files), True)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _edit(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


def test_verify_names_each_kind_of_tampering_and_where(
    make_sink: Callable[..., AuditSink],
) -> None:
    sink = write_log(make_sink, 20, rotate_bytes=4096)
    log = Path(sink.config.path or "")
    files = sorted(log.glob("*.jsonl"))
    first, middle, last = files[0], files[1], files[-1]

    lines = _lines(first)
    _edit(first, [lines[0], lines[1].replace('"action":"redact"', '"action":"pass"'), *lines[2:]])
    assert problems(log) == [("edited", first.name)]
    _edit(first, lines)

    _edit(first, [lines[0], *lines[2:]])
    assert problems(log) == [("deleted", first.name), ("truncated", first.name)]
    _edit(first, lines)

    _edit(first, [lines[0], lines[2], lines[1], *lines[3:]])
    assert problems(log) == [("reordered", first.name)]
    _edit(first, lines)

    last_lines = _lines(last)
    _edit(last, last_lines[:-2])
    assert problems(log) == [("truncated", last.name)]
    assert problems(log, allow_open=True) == []
    _edit(last, [*last_lines[:-1], last_lines[-1][:40]])
    assert ("truncated", last.name) in problems(log)
    _edit(last, last_lines)

    saved = middle.read_bytes()
    middle.unlink()
    assert [kind for kind, _ in problems(log)] == ["deleted"]
    middle.write_bytes(saved)

    last.unlink()
    assert problems(log) == [("truncated", files[-2].name)]


def test_a_log_written_with_another_key_is_reported_once(
    make_sink: Callable[..., AuditSink],
) -> None:
    sink = write_log(make_sink, 3)
    report = verify([sink.config.path or ""], key=AuditKey(b"another-key-0123456789"))
    assert [p.kind for p in report.problems] == ["key"]


def test_verify_catches_edits_and_deletions_in_sqlite(
    make_sink: Callable[..., AuditSink], tmp_path: Path
) -> None:
    db = tmp_path / "audit.db"
    write_log(make_sink, 5, sink="sqlite", path=str(db))
    assert problems(db) == []
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE records SET action = 'pass' WHERE seq = 2")
    assert problems(db) == [("edited", "audit.db")]
    with conn:
        conn.execute("UPDATE records SET action = 'redact' WHERE seq = 2")
        body = conn.execute("SELECT body FROM records WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE records SET body = ? WHERE seq = 3", (body.replace("req-2", "req-x"),))
    assert problems(db) == [("edited", "audit.db")]
    with conn:
        conn.execute("UPDATE records SET body = ? WHERE seq = 3", (body,))
        conn.execute("DELETE FROM findings WHERE idx = 2 AND record_id = 2")
    assert problems(db) == [("edited", "audit.db")]
    with conn:
        conn.execute("DELETE FROM records WHERE seq = 4")
    assert [kind for kind, _ in problems(db)] == ["edited", "deleted", "truncated"]
    conn.close()


def test_the_annotated_example_documents_the_audit_section() -> None:
    from leakguard.config import load_config

    example = Path(__file__).resolve().parents[1] / "models" / "leakguard.example.yaml"
    config = load_config(example)
    assert config.audit.tenant_header == "X-Tenant-ID"
    assert config.audit.fingerprint_key_env == "LEAKGUARD_AUDIT_KEY"
    assert config.pii.allow_fingerprints == []
    assert config.audit.model_dump(exclude={"tenant_header"}) == type(config.audit)().model_dump(
        exclude={"tenant_header"}
    )


def test_no_log_record_at_any_level_carries_scanned_text(
    make_guard: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Presidio logs the words around a match at DEBUG; leakguard filters those records."""
    caplog.set_level(logging.DEBUG)
    guard = make_guard({"pii": {"spacy_model": "none", "entities": ["EMAIL_ADDRESS"]}})
    guard.scan("Sure, reach dalton.kramer@kramer.biz for the mail")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "kramer.biz" not in messages
