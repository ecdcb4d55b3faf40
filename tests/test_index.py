from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from leakguard.cli import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, main
from leakguard.config import MemorizationConfig
from leakguard.corpus import plan_shards
from leakguard.exceptions import IndexMismatchError
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.build import (
    add_shard,
    build_index,
    build_partial,
    merge_partials,
    size_index,
)
from leakguard.memorization.detector import MemorizationDetector
from leakguard.memorization.index import IndexParams, open_index

_RNG = random.Random(4)
_VOCAB = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in "nrstlm"]


def _words(count: int, rng: random.Random = _RNG) -> list[str]:
    return [rng.choice(_VOCAB) for _ in range(count)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """A small mixed corpus: text files, JSON Lines, gzip'd copies, a nested directory."""
    root = tmp_path_factory.mktemp("corpus")
    docs = {name: _words(300) for name in ("txt", "jsonl", "gz", "nested", "jsonlgz")}
    (root / "a.txt").write_text(" ".join(docs["txt"]), encoding="utf-8")
    rows = [{"text": " ".join(docs["jsonl"]), "id": 1}, {"text": 5}, {"other": "x"}]
    (root / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with gzip.open(root / "c.txt.gz", "wt", encoding="utf-8") as f:
        f.write(" ".join(docs["gz"]))
    (root / "sub").mkdir()
    (root / "sub" / "d.md").write_text("# Title\n\n" + " ".join(docs["nested"]))
    with gzip.open(root / "sub" / "e.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"body": "ignored", "text": " ".join(docs["jsonlgz"])}) + "\n")
    return root, docs


def _detector(path: Path, **config: object) -> MemorizationDetector:
    return MemorizationDetector(MemorizationConfig(index=str(path), **config))  # type: ignore[arg-type]


def test_built_index_finds_passages_from_every_input_format(
    corpus: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    root, docs = corpus
    report = build_index([root], out=tmp_path / "i.lgx")
    assert report.stats.records == 5
    assert report.stats.rejects == 2
    assert report.stats.reject_reasons == {
        "field 'text' is int, not str": 1,
        "missing field 'text'": 1,
    }
    assert report.stats.words == 5 * 300 + 1
    detector = _detector(tmp_path / "i.lgx")
    for name, words in docs.items():
        text = "Unrelated opening words. " + " ".join(words[100:160]) + " The end."
        findings = detector.detect(text)
        assert [f.details["words"] for f in findings] == [60], name
    assert detector.detect(" ".join(_words(500, random.Random(9)))) == []


def test_parallel_build_writes_the_same_bits_as_a_single_process(
    corpus: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    root, _ = corpus
    one = build_index([root], out=tmp_path / "one.lgx", workers=1)
    two = build_index([root], out=tmp_path / "two.lgx", workers=3)
    assert two.workers == 3
    assert one.header.checksum == two.header.checksum
    assert one.stats.ngrams == two.stats.ngrams


def test_header_records_parameters_and_source(
    corpus: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    root, _ = corpus
    build_index([root], out=tmp_path / "i.lgx", params=IndexParams(ngram=6, fpr=1e-4))
    header = BloomFilter.open(tmp_path / "i.lgx").header
    assert header.params["ngram"] == 6
    assert header.params["normalization_version"] == 1
    assert header.params["hash_scheme"] == "poly-fmix64/v2"
    assert isinstance(header.params["unicode_version"], str)
    assert header.target_fpr == 1e-4
    assert header.source["inputs"] == [str(root)]
    assert header.items_added == header.source["ngrams"]


def test_index_of_other_ngram_size_is_refused_naming_the_rebuild_command(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text(" ".join(_words(50)))
    build_index([tmp_path / "c.txt"], out=tmp_path / "i.lgx")
    with pytest.raises(IndexMismatchError) as caught:
        open_index(tmp_path / "i.lgx", ngram=6)
    message = str(caught.value)
    assert "was built with ngram=8, but the config asks for ngram=6" in message
    assert f"leakguard index build {tmp_path / 'c.txt'} --out {tmp_path / 'i.lgx'} --ngram 6" in (
        message
    )
    assert "or set memorization.ngram: 8" in message
    with pytest.raises(IndexMismatchError):
        _detector(tmp_path / "i.lgx", profile="strict")


def test_ngrams_across_the_cut_of_a_large_text_file_are_indexed(tmp_path: Path) -> None:
    words = _words(2000)
    lines = [" ".join(words[i : i + 10]) for i in range(0, 2000, 10)]
    (tmp_path / "big.txt").write_text("\n".join(lines))
    [shard] = plan_shards([tmp_path / "big.txt"], max_record_bytes=500)
    params = IndexParams()
    bloom = size_index([shard], params, expected_ngrams=4000)
    stats = add_shard(bloom, shard, ngram=8)
    assert stats.records > 10  # the file was cut into pieces
    assert stats.ngrams == 2000 - 7  # ... and no n-gram was lost at a cut


def test_partials_built_apart_merge_into_the_whole(
    corpus: tuple[Path, dict[str, list[str]]], tmp_path: Path
) -> None:
    """The API another scheduler (Dask) uses: size once, build per group, OR the partials."""
    root, _ = corpus
    shards = plan_shards([root])
    params = IndexParams()
    blocks = size_index(shards, params).header.num_blocks
    partials = []
    for i, group in enumerate([shards[:2], shards[2:]]):
        partial, _ = build_partial(group, params=params, num_blocks=blocks)
        partial.save(tmp_path / f"p{i}.lgx")
        partials.append(BloomFilter.open(tmp_path / f"p{i}.lgx"))
    merged = merge_partials(partials)
    whole, _ = build_partial(shards, params=params, num_blocks=blocks)
    assert np.array_equal(merged.words, whole.words)


def test_cli_builds_and_describes_an_index(
    corpus: tuple[Path, dict[str, list[str]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _ = corpus
    out = tmp_path / "cli.lgx"
    assert main(["index", "build", str(root), "--out", str(out), "--workers", "1"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "words/s" in err
    assert "ETA" in err
    assert "rejected 1: missing field 'text'" in err
    assert main(["index", "info", str(out), "--verify"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "ngram         8" in text
    assert "(verified)" in text
    assert main(["index", "info", str(out), "--format", "json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["params"]["ngram"] == 8
    assert 0 < info["fill_ratio"] < 0.6
    assert info["estimated_fpr"] < 1e-3


def test_cli_reports_a_missing_input_as_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["index", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "i.lgx")])
    assert code == EXIT_ERROR
    assert "does not exist" in capsys.readouterr().err


def test_scan_with_index_redacts_memorized_text(
    corpus: tuple[Path, dict[str, list[str]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, docs = corpus
    out = tmp_path / "i.lgx"
    build_index([root], out=out)
    config = tmp_path / "c.yaml"
    config.write_text("pii:\n  enabled: false\n")
    response = tmp_path / "r.txt"
    response.write_text("Here it is: " + " ".join(docs["txt"][:80]) + "\n")
    assert main(["scan", "--config", str(config), "--index", str(out), str(response)]) == EXIT_OK
    assert capsys.readouterr().out == "Here it is: <MEMORIZED>\n"
    config.write_text("pii:\n  enabled: false\npolicy:\n  actions:\n    MEMORIZED: block\n")
    code = main(["scan", "--config", str(config), "--index", str(out), str(response)])
    assert code == EXIT_BLOCKED


def test_index_of_an_older_hash_scheme_is_refused(tmp_path: Path) -> None:
    bloom = BloomFilter.create(
        expected_items=10, params={**IndexParams().header_params(), "hash_scheme": "old/v0"}
    )
    bloom.save(tmp_path / "old.lgx")
    with pytest.raises(IndexMismatchError, match="but this leakguard asks for hash_scheme="):
        open_index(tmp_path / "old.lgx", ngram=8)


def test_scan_with_a_missing_index_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.txt").write_text("hello")
    (tmp_path / "c.yaml").write_text("pii:\n  enabled: false\n")
    args = ["scan", "--config", str(tmp_path / "c.yaml"), "--index", str(tmp_path / "no.lgx")]
    assert main([*args, str(tmp_path / "r.txt")]) == EXIT_ERROR
    assert "no.lgx': cannot read it" in capsys.readouterr().err
