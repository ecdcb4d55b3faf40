"""`leakguard scan --audit-log` and `leakguard audit ...`: planted canaries never reach the log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from faker import Faker

from leakguard.audit.sinks import open_sink
from leakguard.cli import EXIT_OK, main
from leakguard.commands.audit import EXIT_TAMPERED
from leakguard.config import parse_config

KEY = "cli-audit-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKGUARD_AUDIT_KEY", KEY)


def canaries(seed: int, n: int) -> list[tuple[str, list[str]]]:
    """Texts with planted e-mail addresses, phone and card numbers (Faker, own templates)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    cards = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881"]
    out = []
    for i in range(n):
        email = f"{fake.user_name()}{i}@{fake.domain_name()}"
        phone = f"+1 415 555 {1000 + i:04d}"
        card = cards[i % len(cards)]
        text = f"Please write to {email} or call {phone}. The card on file is {card}, thanks."
        out.append((text, [email, phone, card]))
    return out


def every_byte_under(path: Path) -> Iterator[tuple[Path, bytes]]:
    for file in sorted(path.rglob("*")):
        if file.is_file():
            yield file, file.read_bytes()


@pytest.fixture(scope="module")
def scanned_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """Ten texts scanned with the real detectors into one JSON Lines log."""
    root = tmp_path_factory.mktemp("scan-log")
    inputs, values = [], []
    for i, (text, planted) in enumerate(canaries(7, 10)):
        src = root / f"in{i}.txt"
        src.write_text(text, encoding="utf-8")
        inputs.append(str(src))
        values += planted
    (root / "clean.txt").write_text("Nothing personal in here.", encoding="utf-8")
    inputs.append(str(root / "clean.txt"))
    log = root / "log"
    config = root / "leakguard.yaml"
    # Pattern recognizers only: the log is under test here, not NER quality (and it is fast).
    config.write_text(
        "pii:\n  spacy_model: none\n  entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD]\n"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("LEAKGUARD_AUDIT_KEY", KEY)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as m:
        m.setattr("sys.stdout", out)
        args = ["scan", "--config", str(config), "--format", "json", "--audit-log", str(log)]
        assert main([*args, *inputs]) == EXIT_OK
    mp.undo()
    return log, values, out.getvalue()


def test_scanned_inputs_are_logged_without_any_planted_value(
    scanned_log: tuple[Path, list[str], str],
) -> None:
    log, values, stdout = scanned_log
    files = list(every_byte_under(log))
    assert files
    for file, data in files:
        for value in values:
            assert value.encode() not in data, f"{value!r} leaked into {file}"
            assert value.lower().encode() not in data.lower()
    for value in values:
        assert value not in stdout
    records = [json.loads(line) for _, data in files for line in data.splitlines()]
    events = [r for r in records if r["kind"] == "event"]
    assert len(events) == 11
    assert sorted({f["label"] for e in events for f in e["findings"]}) == [
        "CREDIT_CARD",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
    ]
    assert {e["source"] for e in events} == {"scan"}
    assert all(len(f["fingerprint"]) == 16 for e in events for f in e["findings"])


def test_verify_summary_and_export_read_the_scan_log(
    scanned_log: tuple[Path, list[str], str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log, values, _ = scanned_log
    assert main(["audit", "verify", str(log)]) == EXIT_OK
    assert capsys.readouterr().out.endswith("1 stream(s): OK\n")

    assert main(["audit", "summary", "--format", "json", str(log)]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 11
    assert summary["by_action"] == {"redact": 10, "pass": 1}
    assert summary["by_label"]["EMAIL_ADDRESS"] == 10
    # Three card numbers over ten responses: each repeats, and is listed as a repeat.
    repeated = {(t["label"], t["responses"]) for t in summary["top_fingerprints"]}
    assert repeated == {("CREDIT_CARD", 4), ("CREDIT_CARD", 3)}

    out = tmp_path / "export.csv"
    assert main(["audit", "export", "--label", "CREDIT_CARD", "-o", str(out), str(log)]) == 0
    exported = out.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 30  # ten records, three findings each
    assert {r["action"] for r in rows} == {"redact"}
    assert not [v for v in values if v in exported]


def test_import_copies_the_chain_into_sqlite_where_it_still_verifies(
    scanned_log: tuple[Path, list[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, _, _ = scanned_log
    db = tmp_path / "audit.db"
    assert main(["audit", "import", "--db", str(db), str(log)]) == EXIT_OK
    assert main(["audit", "import", "--db", str(db), str(log)]) == EXIT_OK
    assert "imported 0 records" in capsys.readouterr().out
    assert main(["audit", "verify", str(db)]) == EXIT_OK
    assert main(["audit", "summary", "--format", "json", str(db)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["records"] == 11


def test_verify_exits_with_the_tampered_code_and_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_config({"audit": {"path": str(tmp_path / "log"), "fingerprint_key": KEY}})
    sink = open_sink(config)
    sink.close()
    (segment,) = (tmp_path / "log").glob("*.jsonl")
    lines = segment.read_text().splitlines(keepends=True)
    segment.write_text(lines[0])
    assert main(["audit", "verify", str(tmp_path / "log")]) == EXIT_TAMPERED
    out = capsys.readouterr().out
    assert f"PROBLEM {segment}:1: truncated:" in out


def test_verify_without_a_key_is_an_error_that_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LEAKGUARD_AUDIT_KEY")
    assert main(["audit", "verify", str(tmp_path)]) == 2
    assert "audit.fingerprint_key" in capsys.readouterr().err


def test_review_refuses_to_start_without_a_password_or_a_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LEAKGUARD_REVIEW_PASSWORD", raising=False)
    assert main(["review", "--db", str(tmp_path / "none.db")]) == 2
    assert "leakguard audit import" in capsys.readouterr().err
    db = tmp_path / "audit.db"
    sink = open_sink(parse_config({"audit": {"sink": "sqlite", "path": str(db)}}))
    sink.close()
    assert main(["review", "--db", str(db)]) == 2
    assert "audit.review_password" in capsys.readouterr().err


def test_an_unwritable_log_path_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    src = tmp_path / "in.txt"
    src.write_text("nothing", encoding="utf-8")
    assert main(["scan", "--audit-log", str(blocker / "log"), str(src)]) == 2
    err = capsys.readouterr().err
    assert "cannot open the redaction log at" in err


def test_serve_with_an_audit_log_writes_a_stream_and_reports_it_on_metrics(
    tmp_path: Path,
) -> None:
    from starlette.testclient import TestClient

    from leakguard.audit.chain import AuditKey
    from leakguard.audit.verify import verify
    from leakguard.commands.serve import build, load_settings

    config_file = tmp_path / "c.yaml"
    config_file.write_text("pii:\n  spacy_model: none\n  entities: [EMAIL_ADDRESS]\n")
    log = tmp_path / "log"
    config = load_settings(str(config_file), "http://127.0.0.1:9", str(log))
    assert (config.audit.enabled, config.audit.path) == (True, str(log))
    build(config, open_log=False)
    assert not list(log.glob("*.jsonl"))  # a dry build opens no stream
    with TestClient(build(config)) as client:
        metrics = client.get("/metrics").text
    assert 'leakguard_audit_sink_records_total{sink="jsonl",state="written"} 0' in metrics
    report = verify([log], key=AuditKey(KEY.encode()))
    assert report.ok
    assert [(s.records, s.sealed) for s in report.streams] == [(0, True)]
