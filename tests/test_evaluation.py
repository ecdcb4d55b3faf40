from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakguard.cli import main
from leakguard.evaluation.scoring import LabelledText, Span, evaluate, f_beta, load_dataset
from leakguard.exceptions import DatasetError


def test_recall_needs_80_percent_coverage_and_precision_needs_overlap() -> None:
    data = [
        LabelledText("a" * 40, (Span(0, 10, "PERSON"), Span(20, 30, "PHONE_NUMBER"))),
    ]

    def system(text: str) -> list[Span]:
        # 8 of 10 chars of the name, 7 of 10 of the phone, one false alarm.
        return [Span(0, 8, "PERSON"), Span(23, 30, "PHONE_NUMBER"), Span(35, 38, "URL")]

    report = evaluate(system, data, name="s")
    assert report.label_recall("PERSON") == 1.0
    assert report.label_recall("PHONE_NUMBER") == 0.0
    assert report.recall == 0.5
    assert report.precision == pytest.approx(2 / 3)
    assert report.label_precision("URL") == 0.0
    assert report.f2 == pytest.approx(f_beta(2 / 3, 0.5, beta=2))


def test_malformed_dataset_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"text": "ok", "spans": []}\n'
        '{"text": "abc", "spans": [{"start": 1, "end": 9, "label": "X"}]}\n'
    )
    with pytest.raises(DatasetError, match=r"d.jsonl:2: span 1..9 is outside the text"):
        load_dataset(path)


@pytest.mark.heavy
def test_eval_command_prints_both_systems_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Mail jane@corp.io or call +1 415 555 0134."
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"text": text, "spans": [{"start": 5, "end": 17, "label": "EMAIL_ADDRESS"}]})
        + "\n"
    )
    assert main(["eval", str(path), "--format", "json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["system"] for r in reports] == ["leakguard", "presidio"]
    assert reports[0]["labels"]["EMAIL_ADDRESS"]["recall"] == 1.0
