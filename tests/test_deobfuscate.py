"""Obfuscated values (issue 20, item 19): the normalised view, its offset map, and the guard
finding every form of tests/deobfuscate_kit.py over the whole obfuscated span."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from deobfuscate_kit import FORMS, NEGATIVES, Form

from leakguard.config import parse_config
from leakguard.findings import Finding
from leakguard.guard import Guard
from leakguard.pii.deobfuscate import Deobfuscated, deobfuscate


@pytest.fixture(scope="module")
def plain(make_guard: Callable[..., Guard]) -> Guard:
    """The default guard with the normalised view turned off: what leaked before."""
    return make_guard({"pii": {"deobfuscate": False}})


# --- the pure function ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("jane\u200b.doe@exa\u2060mple.com", "jane.doe@example.com"),
        ("\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11", "4111 1111"),
        ("\u0665\u0663\u0666\u2013\u0662\u0662", "536-22"),
        ("jane [at] example [dot] com", "jane@example.com"),
        ("jane at example dot co dot uk", "jane@example.co.uk"),
        ("jane.doe at example.com", "jane.doe@example.com"),
        ("jane&#64;example&#46;com and x%40y.org", "jane@example.com and x@y.org"),
        ("jane@acme-corp .com", "jane@acme-corp.com"),
        ("203[.]0[.]113[.]77 via hxxps[:]//a[.]io", "203.0.113.77 via https://a.io"),
        ("4111.1111.1111.1111", "4111-1111-1111-1111"),
        ("| 4111 | 1111 | 1111 | 1111 |", "| 4111-1111-1111-1111 |"),
        ("AKIA IOSF ODNN 7EXA MPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("nine eight seven six five four three", "9876543"),
        ("j\u200bane\uff20example [dot] com", "jane@example.com"),
        # found by the streaming property test: "x9 at j.doe" is no address (no such
        # suffix), so "j.doe AT example DOT org" is read as one, as a window opening
        # after "x9" reads it
        ("x9 at j.doe AT example DOT org", "x9 at j.doe@example.org"),
        ("jane.doe at example.invalidtld", "jane.doe at example.invalidtld"),
    ],
)
def test_the_normalised_view_undoes_each_form(text: str, normalised: str) -> None:
    assert deobfuscate(text).text == normalised


@pytest.mark.parametrize(
    "text",
    [
        "Look at example.com, then at home. We met at noon.",
        "Versions 2.4.1 and 2024.01.15; 10.30 at 3 pm.",
        "| Year | Q1 | Q2 | Q3 |\n|---|---|---|---|\n| 2021 | 4100 | 4200 | 4300 |\n"
        "| 2022 | 4500 | 4600 | 4700 |",
        "",
        "plain ASCII prose with no cue",
    ],
)
def test_text_without_obfuscation_is_its_own_view(text: str) -> None:
    view = deobfuscate(text)
    assert view.text == text
    assert not view.changed
    assert view.span(0, len(text)) == (0, len(text))


def _check_map(view: Deobfuscated) -> None:
    """Between edits both texts agree, and every normalised span maps to an original span
    that reads the same once normalised."""
    assert len(view.edits) == len(view.starts)
    original, text = view.original, view.text
    for a in range(len(text) + 1):
        for b in range(a + 1, min(len(text), a + 12) + 1):
            start, end = view.span(a, b)
            assert 0 <= start < end <= len(original)
            touched = [e for e in view.edits if e.start < end and start < e.end]
            if touched:  # a span that touches an edit covers all of it
                assert all(start <= e.start and e.end <= end for e in touched)
            else:
                assert original[start:end] == text[a:b]
    pieces = []
    pos = 0
    for edit in view.edits:
        pieces.append(original[pos : edit.start] + edit.text)
        pos = edit.end
    assert "".join(pieces) + original[pos:] == text


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f"{f.form}:{f.value[:24]!a}")
def test_the_offset_map_is_consistent(form: Form) -> None:
    _check_map(deobfuscate(form.text))


def test_spans_touching_an_edit_cover_all_of_it() -> None:
    view = deobfuscate("mail: jane [at] example [dot] com.")
    at = view.text.index("@")
    assert view.span(at, at + 1) == (10, 16)  # " [at] "
    assert view.span(0, 5) == (0, 5)
    start, end = view.span(view.text.index("jane"), view.text.index(".com") + 4)
    assert view.original[start:end] == "jane [at] example [dot] com"


def test_a_zero_width_character_at_a_span_edge_stays_outside() -> None:
    view = deobfuscate("x \u200bjane@example.com\u200b y")
    start, end = view.span(2, 2 + len("jane@example.com"))
    assert view.original[start:end] == "jane@example.com"


def test_random_edits_compose_into_one_consistent_map() -> None:
    rng = random.Random(20)
    pieces = [
        "jane", "[at]", " at ", "\u200b", "\uff14", "\u0661", "\u2013", "\u00a0", "[.]",
        "example", " dot ", "com", "4111", ".", " ", "&#64;", "|", "1111", "\n",
    ]  # fmt: skip
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        _check_map(deobfuscate(text))


# --- through the guard (the real spaCy model and Presidio) -----------------------------


def _covering(findings: tuple[Finding, ...], form: Form) -> Finding | None:
    start, end = form.span
    return next(
        (f for f in findings if form.label in f.labels and f.start == start and f.end == end),
        None,
    )


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f"{f.form}:{f.value[:24]!a}")
def test_every_obfuscated_form_is_found_over_its_whole_span(guard: Guard, form: Form) -> None:
    outcome = guard.scan(form.text)
    found = _covering(outcome.findings, form)
    assert found is not None, [(f.label, f.start, f.end) for f in outcome.findings]
    start, end = form.span
    assert outcome.text.startswith(form.text[:start])
    assert outcome.text.endswith(form.text[end:])
    assert form.value not in outcome.text


def test_values_side_by_side_stay_apart(guard: Guard) -> None:
    """Found by the streaming property test: dotted cards rewritten with spaces ran into
    each other (and into an SSN) and read as one long number."""
    text = "3782.822463.10005 3782.822463.10005, 536\u201322\u20131845 5555/5555/5555/4444"
    assert guard.scan(text).text == "<CREDIT_CARD> <CREDIT_CARD>, <US_SSN> <CREDIT_CARD>"


def test_the_forms_table_is_large_and_most_forms_leaked_without_the_view(plain: Guard) -> None:
    """The table holds at least 62 forms; with ``pii.deobfuscate: false`` most leak
    (which is what the view is for)."""
    assert len(FORMS) >= 62
    leaked = [f for f in FORMS if _covering(plain.scan(f.text).findings, f) is None]
    assert len(leaked) >= len(FORMS) // 2


def test_a_found_form_says_which_obfuscation_it_undid(guard: Guard) -> None:
    (finding,) = guard.detect("mail jane [at] example [dot] com now")
    assert finding.details["obfuscation"] == "at_dot"
    (finding,) = guard.detect("card \uff14\uff11\uff11\uff11.1111.1111.1111 now")
    assert finding.details["obfuscation"] == "dotted_card+fullwidth"


@pytest.mark.parametrize("text", NEGATIVES, ids=range(len(NEGATIVES)))
def test_prose_that_looks_obfuscated_gains_no_finding(
    guard: Guard, plain: Guard, text: str
) -> None:
    spans = {(f.label, f.start, f.end) for f in guard.detect(text)}
    assert spans == {(f.label, f.start, f.end) for f in plain.detect(text)}


def test_the_switch_turns_the_view_off(plain: Guard) -> None:
    # With the view off the address is not read ("jane" alone may be, as a lower-case name).
    found = plain.scan("jane [at] example [dot] com").findings
    assert [f.label for f in found if f.label != "PERSON"] == []
    assert plain.scan("ops [at] example [dot] com").findings == ()


def test_sanitize_removes_every_obfuscated_form_with_one_pseudonym_per_value(
    tmp_path: Path,
) -> None:
    """The sanitizer's batch detector sees the normalised view too, and an obfuscated
    address gets the pseudonym of the address as plainly written."""
    from leakguard.sanitize.run import sanitize_corpus

    key = b"test-pseudonym-key"
    config = parse_config({"sanitize": {"pseudonym_key": key.decode(), "batch_size": 8}})
    forms = [f for f in FORMS if "\n" not in f.template]
    lines = [json.dumps({"text": f.text}) for f in forms]
    lines += [
        json.dumps({"text": t})
        for t in ("Mail jane@example.com now.", "Mail jane [at] example [dot] com now.")
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "forms.jsonl").write_text("\n".join(lines) + "\n")
    sanitize_corpus([tmp_path / "in"], tmp_path / "out", config=config, key=key, workers=1)
    out = (tmp_path / "out" / "data" / "in" / "forms.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in out]
    assert len(texts) == len(forms) + 2
    for form, text in zip(forms, texts, strict=False):
        start, end = form.span
        assert text.startswith(form.text[:start]), form
        assert text.endswith(form.text[end:]), form
        assert form.value not in text
    assert texts[-1] == texts[-2]
    assert texts[-1].startswith("Mail <EMAIL_ADDRESS_")
