"""Partitioned, resumable index builds (issue 22, item 3)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from leakguard.cli import EXIT_OK, main
from leakguard.exceptions import IndexFormatError
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.build import build_index
from leakguard.memorization.index import IndexParams
from leakguard.memorization.partitioned import partition_bounds, state_dir

_VOCAB = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in "nrstlmx"]


def _corpus(root: Path, files: int, words: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for i in range(files):
        text = " ".join(rng.choice(_VOCAB) for _ in range(words))
        (root / f"doc{i}.txt").write_text(text, encoding="utf-8")
    return root


def _header_without_time(path: Path) -> dict[str, Any]:
    header = BloomFilter.read_header(path)[0].to_json()
    header["source"] = {k: v for k, v in header["source"].items() if k != "built_at"}
    return header


def test_partitions_cover_every_block_once() -> None:
    assert partition_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert partition_bounds(5, 5) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


@pytest.mark.parametrize(
    ("workers", "partitions", "dask"), [(1, 4, None), (2, 3, None), (2, 3, "local")]
)
def test_a_partitioned_build_writes_the_bits_of_a_one_process_build(
    tmp_path: Path, workers: int, partitions: int, dask: str | None
) -> None:
    corpus = _corpus(tmp_path / "c", files=5, words=3000)
    params = IndexParams(ngram=5)
    whole = build_index([corpus], out=tmp_path / "whole.lgx", params=params, expected_ngrams=20_000)
    parted = build_index(
        [corpus],
        out=tmp_path / "parted.lgx",
        params=params,
        workers=workers,
        partitions=partitions,
        expected_ngrams=20_000,
        dask=dask,
        dask_processes=False,
    )
    a, b = BloomFilter.open(tmp_path / "whole.lgx"), BloomFilter.open(tmp_path / "parted.lgx")
    assert a.fill_ratio() > 0.05
    assert np.array_equal(a.words, b.words)
    assert a.header.checksum == b.header.checksum
    assert parted.header.items_added == whole.header.items_added == 5 * (3000 - 4)
    assert parted.header.source["build"] == {
        "partitions": partitions,
        "workers": workers,
        "dask": dask is not None,
    }
    assert not state_dir(tmp_path / "parted.lgx").exists()  # cleaned up once written
    assert len(parted.layout["peak_rss"]) == partitions


def test_index_info_shows_the_partitioning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _corpus(tmp_path / "c", files=3, words=2000)
    out = tmp_path / "i.lgx"
    argv = ["index", "build", str(corpus), "--out", str(out), "--workers", "1"]
    assert main([*argv, "--partitions", "3", "--quiet"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "3 partitions of" in err
    assert main(["index", "info", str(out)]) == EXIT_OK
    assert "3 partitions of" in capsys.readouterr().out
    assert main(["index", "info", str(out), "--format", "json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["source"]["build"]["partitions"] == 3


def test_progress_off_a_terminal_is_plain_lines_with_ngrams_per_second() -> None:
    import io

    from leakguard.commands.index import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(1000, stream=stream, log_every=0.0)
    bar(0, 0)
    time.sleep(0.01)
    bar(500, 2_000_000)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[-1].startswith("index build:  50.0%")
    assert "M n-grams/s" in lines[-1]
    assert "ETA" in lines[-1]


def test_a_build_left_by_other_settings_is_refused_naming_the_state_folder(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", files=2, words=500)
    out = tmp_path / "i.lgx"
    state = state_dir(out)
    state.mkdir()
    (state / "plan.json").write_text(json.dumps({"params": {"ngram": 3}}), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="unfinished build with other inputs") as caught:
        build_index([corpus], out=out, workers=1, partitions=2)
    assert f"remove {state}" in str(caught.value)


def test_a_build_killed_with_sigkill_resumes_to_the_same_index(tmp_path: Path) -> None:
    """A real process tree, killed with SIGKILL mid-build; the rerun finishes the work left
    and writes the bits and header of an uninterrupted build."""
    corpus = _corpus(tmp_path / "c", files=12, words=60_000)
    out = tmp_path / "killed.lgx"
    argv = [sys.executable, "-m", "leakguard.cli", "index", "build", str(corpus), "--out"]
    opts = ["--workers", "2", "--partitions", "4", "--quiet", "--expected-ngrams", "800000"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([*argv, str(out), *opts], env=env, start_new_session=True)
    maps = state_dir(out) / "maps"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(maps.glob("*.json"))) < 3:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(maps.glob("*.json")))
    assert 3 <= done_before < 12, "the build was not caught mid-way"
    assert not out.exists()
    rerun = subprocess.run(
        [*argv, str(out), *opts], env=env, capture_output=True, text=True, check=True
    )
    assert "shards resumed from an earlier attempt" in rerun.stderr
    resumed = int(rerun.stderr.split("; ")[1].split()[0])
    assert resumed >= done_before
    clean = tmp_path / "clean.lgx"
    subprocess.run([*argv, str(clean), *opts], env=env, capture_output=True, check=True)
    a, b = BloomFilter.open(out), BloomFilter.open(clean)
    assert np.array_equal(a.words, b.words)
    assert _header_without_time(out) == _header_without_time(clean)
    assert out.stat().st_size == clean.stat().st_size
    assert not state_dir(out).exists()
