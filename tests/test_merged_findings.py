"""Merged findings keep every label: a name inside a memorized passage is redacted once, as
memorized text, and the findings, the JSON output, the metrics and the redaction log still
say a PERSON was in it."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from leakguard.audit.chain import AuditKey
from leakguard.audit.db import RecordFilter
from leakguard.audit.records import record_from_event
from leakguard.audit.report import summarize
from leakguard.audit.sinks import open_sink
from leakguard.audit.verify import iter_records, verify
from leakguard.config import LeakGuardConfig, parse_config
from leakguard.events import ScanEvent, evidence_for
from leakguard.findings import (
    Action,
    Finding,
    Member,
    OutcomeAction,
    join_lines,
    label_rank,
    merge_overlapping,
)
from leakguard.guard import Guard
from leakguard.memorization.build import build_index

KEY = "labels-test-key-0123456789abcdef"
NAME = "Eleanor Whitfield"
# A training document (written for this test) with a person's name in the middle of it.
PASSAGE = (
    "The committee met again on Thursday to review the drainage survey of the lower valley, "
    f"and after a long discussion of the costs the chair, {NAME}, asked the clerk "
    "to prepare a written summary of the engineering options before the next "
    "meeting, including the cost of replacing the old culverts under the river road and "
    "the expected effect on the farms that flood every spring."
)


def f(start: int, end: int, label: str, score: float = 0.8, *, detector: str = "pii") -> Finding:
    return Finding(detector, label, start, end, score, action=Action.REDACT)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> LeakGuardConfig:
    root = tmp_path_factory.mktemp("corpus")
    (root / "train.txt").write_text(PASSAGE + "\n", encoding="utf-8")
    index = root / "train.lgx"
    build_index([root / "train.txt"], out=index)
    return parse_config({"memorization": {"index": str(index)}, "audit": {"fingerprint_key": KEY}})


@pytest.fixture(scope="module")
def guard(config: LeakGuardConfig) -> Guard:
    return Guard(config)


def answer() -> str:
    return f"Here is what I remember: {PASSAGE} Anything else?"


def test_a_name_inside_a_memorized_passage_is_redacted_once_as_memorized(guard: Guard) -> None:
    text = answer()
    raw = guard.detect(text)
    person = [r for r in raw if r.label == "PERSON"]
    memorized = [r for r in raw if r.label == "MEMORIZED"]
    assert person, [(r.label, text[r.start : r.end]) for r in raw]
    assert memorized
    assert memorized[0].start < text.index(NAME) < memorized[0].end

    outcome = guard.scan(text)
    assert outcome.text == "Here is what I remember: <MEMORIZED>. Anything else?"
    (finding,) = outcome.findings
    assert finding.label == "MEMORIZED"
    assert finding.labels[:2] == ("MEMORIZED", "PERSON")
    named = [m for m in finding.members if m.label == "PERSON"]
    assert [text[m.start : m.end] for m in named] == [NAME]
    assert {m.detector for m in finding.members} == {"memorization", "pii"}
    members = finding.to_dict()["members"]
    assert isinstance(members, list)
    assert {"MEMORIZED", "PERSON"} <= {m["label"] for m in members}


def test_the_redaction_log_keeps_both_labels_and_still_verifies(
    guard: Guard, config: LeakGuardConfig, tmp_path: Path
) -> None:
    text = answer()
    outcome = guard.scan(text)
    event = ScanEvent("scan", "req-1", outcome.action, evidence_for(text, outcome.findings), "v1")
    key = AuditKey(KEY.encode())
    record = record_from_event(event, key=key, config=config)
    assert NAME not in json.dumps(record)
    (item,) = record["findings"]
    assert item["label"] == "MEMORIZED"
    person = [m for m in item["members"] if m["label"] == "PERSON"]
    assert len(person) == 1
    # the member's fingerprint is that of the name alone: what a reviewer allow-lists
    assert person[0]["fingerprint"] == key.fingerprint("PERSON", NAME)

    for sink_kind in ("jsonl", "sqlite"):
        path = tmp_path / sink_kind
        sink = open_sink(
            parse_config({"audit": {"path": str(path), "sink": sink_kind, "fingerprint_key": KEY}}),
            key=key,
        )
        assert sink.emit(event)
        sink.close()
        report = verify([path], key=key)
        assert report.ok, report.problems
        (stored,) = [r for r in iter_records([path]) if r.get("kind") == "event"]
        assert RecordFilter(label="PERSON").matches(stored)
        assert summarize([stored]).by_label == {"MEMORIZED": 1, "PERSON": 1}
    rows = sqlite3.connect(tmp_path / "sqlite").execute("SELECT labels FROM records").fetchall()
    assert (",MEMORIZED,PERSON,",) in rows


def test_block_on_a_label_holds_when_that_label_was_merged_into_another(
    config: LeakGuardConfig,
) -> None:
    strict = config.model_copy(
        update={"policy": config.policy.model_copy(update={"block_on_labels": ["PERSON"]})}
    )
    outcome = Guard(strict).scan(answer())
    assert outcome.action is OutcomeAction.BLOCK
    assert outcome.reason == "label:PERSON"


def test_memorized_text_names_the_span_whatever_scores_higher() -> None:
    (merged,) = merge_overlapping(
        [f(0, 100, "MEMORIZED", 0.6, detector="memorization"), f(40, 57, "PERSON", 0.99)]
    )
    assert (merged.label, merged.detector, merged.score) == ("MEMORIZED", "memorization", 0.6)
    assert merged.members == (
        Member("memorization", "MEMORIZED", 0, 100, 0.6, Action.REDACT),
        Member("pii", "PERSON", 40, 57, 0.99, Action.REDACT),
    )


@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        ("CREDIT_CARD", "PHONE_NUMBER"),  # an identifier before a contact point
        ("EMAIL_ADDRESS", "PERSON"),  # a contact point before a NER name
        ("STREET_ADDRESS", "LOCATION"),
        ("PERSON", "BOILERPLATE"),
    ],
)
def test_the_label_priority_decides_before_the_score(winner: str, loser: str) -> None:
    (merged,) = merge_overlapping([f(0, 10, winner, 0.5), f(5, 20, loser, 0.99)])
    assert merged.label == winner
    assert merged.labels == (winner, loser)


def test_a_stricter_action_still_leads_whatever_the_label() -> None:
    memorized = Finding("memorization", "MEMORIZED", 0, 50, 0.9, action=Action.ALLOW)
    (merged,) = merge_overlapping([memorized, f(10, 20, "PERSON")])
    assert (merged.label, merged.action) == ("PERSON", Action.REDACT)


def test_label_ranks_are_the_documented_ones() -> None:
    ranks = {
        label: label_rank(detector, label)
        for detector, label in [
            ("memorization", "MEMORIZED"),
            ("pii", "US_SSN"),
            ("pii", "EMPLOYEE_ID"),
            ("pii", "PHONE_NUMBER"),
            ("pii", "PERSON"),
            ("memorization", "BOILERPLATE"),
        ]
    }
    assert ranks == {
        "MEMORIZED": 0,
        "US_SSN": 1,
        "EMPLOYEE_ID": 1,
        "PHONE_NUMBER": 2,
        "PERSON": 3,
        "BOILERPLATE": 4,
    }


def test_a_merged_finding_moves_with_its_members() -> None:
    (merged,) = merge_overlapping([f(0, 10, "EMAIL_ADDRESS"), f(5, 20, "PERSON")])
    moved = merged.moved(100, 120)
    assert [(m.start, m.end) for m in moved.members] == [(100, 110), (105, 120)]
    assert moved.decided(Action.REDACT, "<X>").members == moved.members


def test_scan_json_lists_every_member(
    config: LeakGuardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from leakguard.cli import EXIT_OK, main

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"memorization:\n  index: {config.memorization.index}\n", encoding="utf-8")
    src = tmp_path / "answer.txt"
    src.write_text(answer(), encoding="utf-8")
    assert main(["scan", "--config", str(cfg), "--format", "json", str(src)]) == EXIT_OK
    record = json.loads(capsys.readouterr().out)
    (finding,) = record["findings"]
    assert finding["label"] == "MEMORIZED"
    assert [m["label"] for m in finding["members"]].count("PERSON") == 1
    assert NAME not in json.dumps(record)


def test_metrics_count_each_label_of_a_merged_span(guard: Guard) -> None:
    import anyio
    from asgi_kit import JSON, chat_body, drive, fixed_app

    from leakguard.middleware import LeakGuardMiddleware
    from leakguard.online.metrics import Metrics

    metrics = Metrics()
    body = json.dumps(chat_body(answer())).encode()
    app = LeakGuardMiddleware(fixed_app([body], JSON), guard=guard, metrics=metrics)
    rec = anyio.run(drive, app, None)
    assert NAME not in rec.body.decode()
    assert "<MEMORIZED>" in rec.body.decode()
    page = metrics.render()
    assert 'leakguard_findings_total{label="MEMORIZED",action="redact"} 1' in page
    assert 'leakguard_findings_total{label="PERSON",action="redact"} 1' in page


# -- one address, one finding ---------------------------------------------------------------

ADDRESS = "1 Infinite Loop\nCupertino\nCA 95014"


def lines_of(text: str) -> list[Finding]:
    """One STREET_ADDRESS finding per line, as the NER model gives them."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append(Finding("pii", "STREET_ADDRESS", pos, pos + len(line), 0.8))
        pos += len(line) + 1
    return out


def test_address_lines_found_one_by_one_are_one_finding() -> None:
    text = f"Ship to:\n{ADDRESS}\nThanks"
    found = [f.moved(f.start + 9, f.end + 9) for f in lines_of(ADDRESS)]
    (joined,) = join_lines(text, found)
    assert text[joined.start : joined.end] == ADDRESS
    assert [text[m.start : m.end] for m in joined.members] == ADDRESS.split("\n")


@pytest.mark.parametrize(
    "text",
    [
        "12 High Street\n\nBristol BS1 4DJ",  # a blank line: two addresses
        "12 High Street\nor else\nBristol BS1 4DJ",  # text between them
    ],
)
def test_address_lines_with_more_than_a_line_break_between_them_stay_apart(text: str) -> None:
    first, last = text.split("\n", maxsplit=1)[0], text.rsplit("\n", maxsplit=1)[-1]
    found = [
        Finding("pii", "STREET_ADDRESS", 0, len(first), 0.8),
        Finding("pii", "STREET_ADDRESS", len(text) - len(last), len(text), 0.8),
    ]
    assert len(join_lines(text, found)) == 2


def test_only_multi_line_labels_are_joined() -> None:
    text = "Jane Roe\nJohn Roe"
    found = [Finding("pii", "PERSON", 0, 8, 0.9), Finding("pii", "PERSON", 9, 17, 0.9)]
    assert len(join_lines(text, found)) == 2


def test_the_policy_redacts_a_multi_line_address_once() -> None:
    from leakguard.config import PolicyConfig
    from leakguard.policy import Policy

    text = f"Ship to:\n{ADDRESS}\nThanks"
    found = [f.moved(f.start + 9, f.end + 9) for f in lines_of(ADDRESS)]
    outcome = Policy(PolicyConfig()).decide(text, found)
    assert outcome.text == "Ship to:\n<STREET_ADDRESS>\nThanks"


def test_sanitize_gives_a_multi_line_address_one_pseudonym(tmp_path: Path) -> None:
    from leakguard.sanitize.run import sanitize_corpus

    texts = [
        f"Please send the parts to\n{ADDRESS}\nbefore Friday.",
        "Calle Mayor 5, 3º B\n28013 Madrid\nEspaña",
    ]
    src = tmp_path / "in" / "a.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    cfg = parse_config({"sanitize": {"pseudonym_key": "k" * 16}})
    summary = sanitize_corpus([src.parent], tmp_path / "out", config=cfg, key=b"k" * 16, workers=1)
    lines = (tmp_path / "out" / "data" / "in" / "a.jsonl").read_text().splitlines()
    out = [json.loads(line)["text"] for line in lines]
    assert re.fullmatch(
        r"Please send the parts to\n<STREET_ADDRESS_[0-9a-f]{10}>\nbefore Friday\.", out[0]
    )
    assert re.fullmatch(r"<STREET_ADDRESS_[0-9a-f]{10}>", out[1])
    assert summary.findings()["STREET_ADDRESS"] == 2
