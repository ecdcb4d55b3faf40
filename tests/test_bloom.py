from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from leakguard.exceptions import IndexFormatError
from leakguard.memorization.bloom import BloomFilter, bits_per_item, expected_fpr

PARAMS: dict[str, int | str] = {"ngram": 8, "normalization_version": 1}


def _hashes(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64 - 1, count, dtype=np.uint64)


def _filled(count: int = 20_000, *, seed: int = 0, fpr: float = 1e-3) -> BloomFilter:
    bloom = BloomFilter.create(expected_items=count, fpr=fpr, params=PARAMS)
    bloom.add(_hashes(count, seed))
    return bloom


def test_sizing_stays_under_two_bytes_per_item_at_one_in_a_thousand() -> None:
    bits = bits_per_item(1e-3)
    assert bits <= 16.0
    assert expected_fpr(bits) == pytest.approx(1e-3, rel=1e-3)
    assert bits_per_item(1e-4) > bits


def test_added_items_are_always_found() -> None:
    bloom = _filled()
    assert bloom.contains(_hashes(20_000, 0)).all()


def test_measured_false_positive_rate_is_near_the_target() -> None:
    bloom = _filled(50_000)
    rate = float(bloom.contains(_hashes(200_000, 99)).mean())
    assert 0.0003 < rate < 0.002
    assert bloom.estimated_fpr() == pytest.approx(rate, rel=0.3)
    assert 0.3 < bloom.fill_ratio() < 0.6


def test_duplicate_items_in_one_batch_set_all_their_bits() -> None:
    bloom = BloomFilter.create(expected_items=10, params=PARAMS)  # one block: all collide
    items = _hashes(10, 5)
    bloom.add(np.concatenate([items, items]))
    assert bloom.contains(items).all()


def test_scalar_lookup_agrees_with_the_batch_lookup() -> None:
    bloom = _filled(5_000)
    queries = np.concatenate([_hashes(5_000, 0)[:2000], _hashes(20_000, 7)])
    assert [bloom.contains_one(int(h)) for h in queries] == bloom.contains(queries).tolist()


def test_saved_filter_maps_back_read_only_with_the_same_answers(tmp_path: Path) -> None:
    bloom = _filled()
    header = bloom.save(tmp_path / "i.lgx", source={"inputs": ["corpus/"]})
    opened = BloomFilter.open(tmp_path / "i.lgx", verify=True)
    assert opened.header == header
    assert opened.header.items_added == 20_000
    assert opened.header.checksum.startswith("blake2b:")
    assert not opened.words.flags.writeable
    queries = _hashes(10_000, 3)
    assert (opened.contains(queries) == bloom.contains(queries)).all()
    with pytest.raises(IndexFormatError, match="read-only"):
        opened.add(queries)


def test_bits_start_on_a_page_boundary(tmp_path: Path) -> None:
    _filled(100).save(tmp_path / "i.lgx")
    _, offset = BloomFilter.read_header(tmp_path / "i.lgx")
    assert offset % 4096 == 0


def test_opened_filter_pickles_as_its_path(tmp_path: Path) -> None:
    _filled(100).save(tmp_path / "i.lgx")
    opened = BloomFilter.open(tmp_path / "i.lgx")
    payload = pickle.dumps(opened)
    assert len(payload) < 1000
    assert pickle.loads(payload).header == opened.header


def test_merging_is_the_union(tmp_path: Path) -> None:
    a, b = _hashes(3000, 1), _hashes(3000, 2)
    left = BloomFilter.create(expected_items=6000, params=PARAMS)
    right = left.empty_like()
    left.add(a)
    right.add(b)
    both = left.empty_like()
    both.add(np.concatenate([a, b]))
    left.merge(right)
    assert (left.words == both.words).all()
    assert left.header.items_added == 6000


def test_merging_filters_of_other_parameters_is_an_error() -> None:
    left = BloomFilter.create(expected_items=1000, params=PARAMS)
    other = BloomFilter.create(expected_items=1000, params={**PARAMS, "ngram": 6})
    with pytest.raises(IndexFormatError, match="parameters differ"):
        left.merge(other)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"NOTBLOOM" + data[8:], "bad magic"),
        (lambda data: data[:-64], "truncated"),
        (lambda data: data[:13] + b"!" + data[14:], "not valid JSON"),
    ],
)
def test_damaged_files_are_refused_with_a_reason(
    tmp_path: Path, damage: object, message: str
) -> None:
    path = tmp_path / "i.lgx"
    _filled(100).save(path)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(IndexFormatError, match=message):
        BloomFilter.open(path)


def test_flipped_bits_fail_verification(tmp_path: Path) -> None:
    path = tmp_path / "i.lgx"
    _filled(100).save(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    BloomFilter.open(path)  # cheap open does not read the bits
    with pytest.raises(IndexFormatError, match="checksum mismatch"):
        BloomFilter.open(path, verify=True)
