"""The real-text evaluation sets: extraction rules on a fake doc tree, the markup format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from leakguard.evaluation.markup import load_markup, parse_markup
from leakguard.evaluation.real_text import debian_name_list, debian_names, part_of
from leakguard.exceptions import DatasetError

CHANGELOG = """\
pkg (1.0-2) unstable; urgency=medium

  * Apply the fix from Jane Example (Closes: #1).

 -- Jane Example <jane@example.org>  Mon, 01 Jan 2024 10:00:00 +0000

pkg (1.0-1) unstable; urgency=medium

  * Initial release.

 -- Debian Janitor <janitor@example.org>  Sun, 31 Dec 2023 10:00:00 +0000
"""


def _doc_tree(tmp_path: Path, package: str) -> Path:
    root = tmp_path / "doc"
    (root / package).mkdir(parents=True)
    (root / package / "changelog.Debian.gz").write_bytes(gzip.compress(CHANGELOG.encode()))
    (root / package / "copyright").write_text("Copyright: 2024 Jane Example\n", encoding="utf-8")
    return root


def test_trailer_names_are_people_and_teams_or_bots_are_not(tmp_path: Path) -> None:
    assert debian_name_list(_doc_tree(tmp_path, "pkg")) == frozenset({"Jane Example"})


def test_each_context_labels_every_listed_name_and_email(tmp_path: Path) -> None:
    package = next(p for p in ("pkg", "pkg2", "pkg3", "pkg4") if part_of(f"/x/{p}") == "dev")
    root = _doc_tree(tmp_path, package)
    sets = debian_names(part_of(str(root / package)), doc_root=root)
    trailer = sets["trailer"][0]
    assert [(trailer.text[s.start : s.end], s.label) for s in trailer.spans] == [
        ("Jane Example", "PERSON"),
        ("jane@example.org", "EMAIL_ADDRESS"),
    ]
    body = sets["changelog body"][0]
    assert body.text.strip() == "* Apply the fix from Jane Example (Closes: #1)."
    notice = sets["copyright"][0]
    assert [notice.text[s.start : s.end] for s in notice.spans] == ["Jane Example"]


def test_markup_gives_text_and_spans() -> None:
    item = parse_markup("Hi [[Aoife]],\\nmail [[EMAIL_ADDRESS:a@example.org]]")
    assert item.text == "Hi Aoife,\nmail a@example.org"
    assert [(item.text[s.start : s.end], s.label) for s in item.spans] == [
        ("Aoife", "PERSON"),
        ("a@example.org", "EMAIL_ADDRESS"),
    ]


def test_bad_markup_names_the_line_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("# comment\nok [[Ana]]\nbroken [[Secret Name\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.txt:3: unbalanced") as info:
        load_markup(path)
    assert "Secret" not in str(info.value)


def test_checked_in_hand_written_sets_parse() -> None:
    root = Path(__file__).resolve().parent.parent / "bench" / "data"
    for part in ("dev", "test"):
        items = load_markup(root / f"handwritten_{part}.txt")
        assert len(items) >= 100
        assert sum(s.label == "PERSON" for i in items for s in i.spans) >= 90
