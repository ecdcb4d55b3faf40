"""The PERSON gate and the lexicon name finder (leakguard.pii.name_gate)."""

from __future__ import annotations

import pytest

from leakguard.pii.name_gate import lexicon_names, name_like


@pytest.mark.parametrize(
    "value",
    ["Simon McVittie", "Siobhán", "ravi shankar", "mr eric brown", "Jonas Berg", "Tomasz"],
)
def test_name_shaped_spans_pass_the_gate(value: str) -> None:
    assert name_like(value)


@pytest.mark.parametrize(
    "value",
    [
        "New Features",
        "Inspector",
        "PRESENTNOTIFY",
        "documentation updates",
        "Chrome DevTools",
        "PresentIdleNotify",
        "Finally",
        "backward compatibility",
    ],
)
def test_prose_terms_the_ner_tags_are_not_names(value: str) -> None:
    assert not name_like(value)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('"I will fix it," said Priya to Kwame.', ["Priya", "Kwame"]),
        ("Thanks to Jane Doe for the patch.", ["Jane Doe"]),
        ("Why is Tomasz so quiet today?", ["Tomasz"]),
        ("The Linux kernel schedules threads on available cores.", []),
        ("Install Visual Studio Code and open the folder.", []),
        ("Open the Network tab in Developer Tools.", []),
    ],
)
def test_lexicon_finds_names_with_evidence_and_leaves_prose(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names
