"""NHS numbers need health-care context: phone numbers whose digits pass the mod-11 check
stay phone numbers (issue 25 item 13), in Guard.scan and in `leakguard sanitize`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakguard.checksums import nhs_valid
from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.sanitize.run import sanitize_corpus

# Phone numbers in 3-3-4 form whose ten digits pass the NHS check (as 1 in 11 do).
PHONES = [
    "Call me on 555 105 1234 tomorrow.",
    "Office: 020 790 0019 (weekdays)",
    "Phone 415-550-0132 or email us.",
    "ring 4155500132 after six",
    "Call the patient on 020 790 0027.",
    "Call NHS Direct on 415 551 0138.",
    "Our hospital's switchboard: tel 555 110 4567",
]
NHS = [
    ("Patient NHS number 943 476 5919.", "943 476 5919"),
    ("NHS no: 9434765919", "9434765919"),
    ("My health number is 401 023 2137", "401 023 2137"),
    ("Patient: admitted, 943-476-5919, ward 4", "943-476-5919"),
    ("CHI 401 023 2137 (Scotland)", "401 023 2137"),
    ("| Name | NHS number |\n|---|---|\n| J. | 943 476 5919 |", "943 476 5919"),
]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(parse_config({"pii": {"spacy_model": "none"}}))


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize("text", PHONES)
def test_a_phone_number_that_passes_the_nhs_check_stays_a_phone_number(
    guard: Guard, text: str
) -> None:
    assert nhs_valid(digits(text))
    labels = [label for f in guard.scan(text).findings for label in f.labels]
    assert "PHONE_NUMBER" in labels
    assert "UK_NHS" not in labels


@pytest.mark.parametrize(("text", "value"), NHS)
def test_an_nhs_number_in_health_care_context_is_uk_nhs(
    guard: Guard, text: str, value: str
) -> None:
    outcome = guard.scan(text)
    (finding,) = [f for f in outcome.findings if text[f.start : f.end] == value]
    assert finding.label == "UK_NHS"
    assert value not in outcome.text


@pytest.mark.parametrize(
    "text",
    ["Patient NHS number 943 476 5918.", "NHS no: 1111111111", "NHS no: 0000000000"],
)
def test_a_number_failing_the_check_is_no_nhs_number(guard: Guard, text: str) -> None:
    assert "UK_NHS" not in [label for f in guard.scan(text).findings for label in f.labels]


def test_sanitize_labels_phones_as_phones_and_nhs_numbers_as_nhs(tmp_path: Path) -> None:
    src = tmp_path / "in" / "a.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in PHONES + [t for t, _ in NHS]))
    cfg = parse_config({"pii": {"spacy_model": "none"}, "sanitize": {"pseudonym_key": "k" * 16}})
    summary = sanitize_corpus([src.parent], tmp_path / "out", config=cfg, key=b"k" * 16, workers=1)
    lines = (tmp_path / "out" / "data" / "in" / "a.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    for text in texts[: len(PHONES)]:
        assert "<PHONE_NUMBER_" in text
        assert "<UK_NHS_" not in text
    for text, (_, value) in zip(texts[len(PHONES) :], NHS, strict=True):
        assert "<UK_NHS_" in text
        assert value not in text
    assert summary.findings()["UK_NHS"] == len(NHS)
