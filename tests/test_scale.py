"""Shard tasks in this process, in worker processes and on Dask; index build on Dask."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakguard.executors import Completed, cpu_workers, run_tasks
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.build import build_index
from leakguard.memorization.index import IndexParams


def square_or_fail(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative input {x}")
    return x * x


def by_index(results: list[Completed[int]]) -> list[tuple[int, int | None, str | None]]:
    return sorted((c.index, c.result, None if c.error is None else str(c.error)) for c in results)


EXPECTED = [(0, 4, None), (1, None, "negative input -1"), (2, 9, None)]


def test_inline_tasks_report_each_error_and_keep_going() -> None:
    results = list(run_tasks(square_or_fail, [2, -1, 3], workers=1))
    assert [c.index for c in results] == [0, 1, 2]  # in order, in this process
    assert by_index(results) == EXPECTED


def test_worker_processes_give_the_same_results_and_errors() -> None:
    assert by_index(list(run_tasks(square_or_fail, [2, -1, 3], workers=2))) == EXPECTED


def test_dask_local_cluster_gives_the_same_results_and_errors() -> None:
    results = run_tasks(square_or_fail, [2, -1, 3], workers=2, dask="local", dask_processes=False)
    assert by_index(list(results)) == EXPECTED


def test_no_tasks_start_nothing() -> None:
    assert list(run_tasks(square_or_fail, [], workers=4, dask="local")) == []


def test_zero_workers_means_one_per_core() -> None:
    assert cpu_workers(0) >= 1
    assert cpu_workers(3) == 3


def _corpus(root: Path) -> Path:
    root.mkdir()
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "while",
        "seven",
        "wizards",
        "box",
        "jolly",
    ]
    for f in range(4):
        lines = [
            '{"text": "' + " ".join(words[(i + f) % 7 :] + [f"token{f}x{i}"] * 3) + '"}'
            for i in range(40)
        ]
        (root / f"part{f}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "notes.txt").write_text(" ".join(words * 20) + "\n")
    return root


@pytest.mark.parametrize("workers", [1, 3])
def test_index_built_on_dask_equals_the_local_build(tmp_path: Path, workers: int) -> None:
    corpus = _corpus(tmp_path / "corpus")
    params = IndexParams(ngram=4, fpr=1e-3)
    local = build_index([corpus], out=tmp_path / "local.lgx", params=params, workers=1)
    dask = build_index(
        [corpus],
        out=tmp_path / "dask.lgx",
        params=params,
        workers=workers,
        dask="local",
        dask_processes=False,
    )
    assert dask.stats == local.stats
    a, b = BloomFilter.open(tmp_path / "local.lgx"), BloomFilter.open(tmp_path / "dask.lgx")
    assert a.header.params == b.header.params
    assert a.header.num_blocks == b.header.num_blocks
    assert a.header.items_added == b.header.items_added > 0
    assert a.header.checksum == b.header.checksum
    assert (a.words == b.words).all()
