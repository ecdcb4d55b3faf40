from __future__ import annotations

import gzip
import itertools
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard import corpus
from leakguard.corpus import Format, Record, format_of, iter_files, plan_shards, read_shard
from leakguard.exceptions import CorpusError


def _records(inputs: list[Path], **kwargs: object) -> list[Record]:
    return [r for shard in plan_shards(inputs, **kwargs) for r in read_shard(shard)]  # type: ignore[arg-type]


def _jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", (Format.TEXT, False)),
        ("a.md.gz", (Format.TEXT, True)),
        ("README", (Format.TEXT, False)),
        ("a.jsonl", (Format.JSONL, False)),
        ("A.NDJSON.GZ", (Format.JSONL, True)),
    ],
)
def test_format_follows_the_file_suffix(name: str, expected: tuple[Format, bool]) -> None:
    assert format_of(name) == expected


def test_directories_are_walked_recursively_in_sorted_order_skipping_hidden(
    tmp_path: Path,
) -> None:
    for rel in ["b/z.txt", "b/a.txt", "a.txt", ".git/x.txt", "c/.hidden.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    files = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])]
    assert files == ["a.txt", "b/a.txt", "b/z.txt"]


def test_missing_input_is_an_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"'.*nope\.txt' does not exist"):
        plan_shards([tmp_path / "nope.txt"])


def test_text_file_is_one_record_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_text("first line\nsecond line\n", encoding="utf-8")
    [record] = _records([tmp_path / "doc.txt"])
    assert record == Record(str(tmp_path / "doc.txt"), Format.TEXT, 1, "first line\nsecond line\n")


def test_jsonl_records_keep_the_parsed_object_and_line_numbers(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"body": "one", "id": 1}, {"body": "two", "id": 2}])
    records = _records([path], field="body")
    assert [(r.line, r.text, r.obj) for r in records] == [
        (1, "one", {"body": "one", "id": 1}),
        (2, "two", {"body": "two", "id": 2}),
    ]


def test_bad_jsonl_lines_become_rejects_with_reasons_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"text": "ok"}\n'
        b"{not json\n"
        b"[1, 2]\n"
        b'{"other": "x"}\n'
        b'{"text": 5}\n'
        b"\n"
        b'{"text": "caf\xe9"}\n'
        b'{"text": "last"}'
    )
    records = _records([path])
    assert [(r.line, r.text, r.reject) for r in records] == [
        (1, "ok", None),
        (2, None, "invalid JSON (Expecting property name enclosed in double quotes at column 2)"),
        (3, None, "not a JSON object (got list)"),
        (4, None, "missing field 'text'"),
        (5, None, "field 'text' is int, not str"),
        (7, None, "undecodable UTF-8 at byte 13"),
        (8, "last", None),
    ]
    assert records[1].raw == b"{not json\n"


def test_undecodable_text_file_is_a_reject_keeping_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"abc \xff def")
    [record] = _records([tmp_path / "bad.txt"])
    assert record.text is None
    assert record.reject == "undecodable UTF-8 at byte 4 of this piece"
    assert record.raw == b"abc \xff def"


def test_gzip_files_are_read_like_their_plain_versions(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "d.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write('{"text": "zipped"}\n')
    with gzip.open(tmp_path / "t.txt.gz", "wt", encoding="utf-8") as f:
        f.write("zipped text")
    records = _records([tmp_path])
    assert [(r.format, r.text) for r in records] == [
        (Format.JSONL, "zipped"),
        (Format.TEXT, "zipped text"),
    ]


def test_truncated_gzip_yields_a_reject_after_the_readable_records(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b'{"text": "row %d"}\n' % i for i in range(2000)))
    (tmp_path / "d.jsonl.gz").write_bytes(data[: len(data) // 2])
    records = _records([tmp_path])
    assert records[0].text == "row 0"
    assert records[-1].text is None
    assert records[-1].reject is not None
    assert records[-1].reject.startswith("broken gzip stream")


def test_large_jsonl_is_split_at_line_breaks_without_losing_or_repeating_lines(
    tmp_path: Path,
) -> None:
    rows = [{"text": f"row {i} " + "x" * (i % 37)} for i in range(500)]
    path = _jsonl(tmp_path / "big.jsonl", rows)
    shards = plan_shards([path], target_shard_bytes=1000)
    assert len(shards) > 5
    assert shards[0].start == 0
    assert shards[-1].end is None
    assert all(a.end == b.start for a, b in itertools.pairwise(shards))
    records = [r for s in shards for r in read_shard(s)]
    assert [r.text for r in records] == [row["text"] for row in rows]
    assert [r.line for r in records] == list(range(1, 501))


def test_shard_plan_is_deterministic_and_picklable(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "big.jsonl", [{"text": "t" * 50}] * 100)
    first = plan_shards([tmp_path], target_shard_bytes=500)
    second = plan_shards([path], target_shard_bytes=500)
    assert first == second
    assert len({s.id for s in first}) == len(first)
    assert pickle.loads(pickle.dumps(first)) == first


def test_shard_ids_change_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one")
    before = plan_shards([path])[0].id
    path.write_text("one two")
    assert plan_shards([path])[0].id != before


def test_large_text_file_is_cut_into_parts_at_blank_lines(tmp_path: Path) -> None:
    paragraphs = [f"paragraph {i} line a\nline b of {i}\n\n" for i in range(40)]
    path = tmp_path / "long.txt"
    path.write_text("".join(paragraphs), encoding="utf-8")
    records = _records([path], max_record_bytes=200)
    assert len(records) > 3
    assert [r.part for r in records] == list(range(len(records)))
    assert "".join(r.text or "" for r in records) == path.read_text(encoding="utf-8")
    assert all((r.text or "").endswith("\n\n") for r in records)
    assert records[1].line == 1 + (records[0].text or "").count("\n")


def test_over_long_jsonl_line_is_rejected_without_holding_it(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "a" * 5000}, {"text": "short"}])
    records = _records([path], max_record_bytes=100)
    assert [(r.line, r.text, r.reject) for r in records] == [
        (1, None, "line longer than 100 bytes"),
        (2, "short", None),
    ]
    assert records[0].raw is not None
    assert len(records[0].raw) == 100


def test_empty_text_file_is_one_empty_record(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_bytes(b"")
    assert [r.text for r in _records([tmp_path])] == [""]


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.text(alphabet="ab \n", max_size=30), max_size=30),
    target=st.integers(min_value=1, max_value=200),
    block=st.integers(min_value=1, max_value=64),
)
def test_byte_ranges_cover_the_file_exactly_with_true_line_numbers(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], target: int, block: int
) -> None:
    """Whatever the block size used to scan, ranges tile the file and end after line breaks."""
    data = "\n".join(lines).encode()
    path = tmp_path_factory.mktemp("ranges") / "f.txt"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(corpus, "_BLOCK", block)
        ranges = corpus._line_ranges(path, target)
    pieces = [data[start:end] for start, end, _ in ranges]
    assert b"".join(pieces) == data
    for (start, end, first_line), piece in zip(ranges, pieces, strict=True):
        assert first_line == data[:start].count(b"\n") + 1
        if end is not None:
            assert piece.endswith(b"\n")
            assert len(piece) >= target
