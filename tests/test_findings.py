from __future__ import annotations

import pytest

from leakguard.findings import Action, Finding, merge_overlapping


def f(
    start: int, end: int, label: str = "X", score: float = 0.5, action: Action | None = None
) -> Finding:
    return Finding("t", label, start, end, score, action=action)


def test_disjoint_and_touching_findings_stay_apart() -> None:
    merged = merge_overlapping([f(5, 9), f(0, 5), f(12, 14)])
    assert [(m.start, m.end) for m in merged] == [(0, 5), (5, 9), (12, 14)]


def test_overlapping_findings_merge_into_their_union_led_by_the_strictest_action() -> None:
    merged = merge_overlapping(
        [
            f(0, 10, "PERSON", 0.99, Action.ALLOW),
            f(8, 20, "EMAIL_ADDRESS", 0.5, Action.REDACT),
            f(18, 22, "URL", 0.9, Action.MASK),
        ]
    )
    assert len(merged) == 1
    assert (merged[0].start, merged[0].end) == (0, 22)
    assert merged[0].label == "EMAIL_ADDRESS"
    assert merged[0].action is Action.REDACT


def test_same_action_ties_go_to_the_higher_score_then_the_longer_span() -> None:
    by_score = merge_overlapping([f(0, 4, "A", 0.4), f(2, 6, "B", 0.8)])
    assert by_score[0].label == "B"
    by_length = merge_overlapping([f(0, 4, "A", 0.8), f(0, 9, "B", 0.8)])
    assert by_length[0].label == "B"


def test_a_chain_of_overlaps_forms_one_cluster() -> None:
    merged = merge_overlapping([f(0, 4), f(3, 8), f(7, 12)])
    assert [(m.start, m.end) for m in merged] == [(0, 12)]


def test_a_finding_contained_in_a_longer_one_does_not_end_the_cluster_early() -> None:
    merged = merge_overlapping([f(0, 20), f(2, 4), f(10, 25)])
    assert [(m.start, m.end) for m in merged] == [(0, 25)]


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (4, 4), (5, 2)])
def test_invalid_spans_are_rejected(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="start < end"):
        f(start, end)


def test_to_dict_never_contains_text() -> None:
    d = f(1, 3, "EMAIL_ADDRESS", 1.0, Action.REDACT).to_dict()
    assert d == {
        "label": "EMAIL_ADDRESS",
        "detector": "t",
        "start": 1,
        "end": 3,
        "score": 1.0,
        "action": "redact",
    }


def test_moved_and_decided_copy_like_dataclasses_replace() -> None:
    from dataclasses import replace

    finding = Finding("pii", "EMAIL_ADDRESS", 3, 10, 0.9, details={"kind": "x"})
    assert finding.moved(3, 10) is finding
    assert finding.moved(5, 12) == replace(finding, start=5, end=12)
    assert finding.decided(None, None) is finding
    decided = finding.decided(Action.REDACT, "<EMAIL_ADDRESS>")
    assert decided == replace(finding, action=Action.REDACT, replacement="<EMAIL_ADDRESS>")
    assert decided.details == {"kind": "x"}
    with pytest.raises(ValueError, match="start < end"):
        finding.moved(7, 7)
