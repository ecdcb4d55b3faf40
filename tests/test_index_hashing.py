from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.memorization import ngrams
from leakguard.memorization.ngrams import (
    RECORD_BREAK,
    RollingNgrams,
    hash_words,
    ngram_hashes,
    word_hash,
    word_hashes,
)
from leakguard.memorization.normalize import lexemes, normalized

_words = st.lists(
    st.text(st.characters(blacklist_categories=["Z", "Cc", "Cs"]), min_size=1, max_size=12),
    max_size=40,
)


def test_hashes_are_pinned_across_processes_and_machines() -> None:
    """Changing these numbers invalidates every index: bump HASH_SCHEME if you must."""
    assert word_hash("the") == 0x096497A9747DC0B2
    assert ngram_hashes(word_hashes(["a", "b", "c", "d", "e", "f", "g", "h"]), 8).tolist() == [
        0xE7A59000869E612A
    ]


@settings(max_examples=200, deadline=None)
@given(_words)
def test_vectorized_word_hashes_equal_one_at_a_time_hashes(words: list[str]) -> None:
    words = [w for w in words if " " not in w and RECORD_BREAK not in w]
    expected = [word_hash(w) for w in words]
    assert hash_words(" ".join(words))[0].tolist() == expected
    assert word_hashes(words).tolist() == expected


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=40))
def test_long_texts_hash_in_chunks_to_the_same_values(text: str, chunk: int) -> None:
    norm = normalized(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ngrams, "_CHUNK", chunk)
        chunked = hash_words(norm)[0]
    assert chunked.tolist() == [word_hash(w) for w in lexemes(text)]


def test_record_breaks_number_the_words_records() -> None:
    hashes, records = hash_words(f"a b{RECORD_BREAK}c  d {RECORD_BREAK}{RECORD_BREAK}e")
    assert records.tolist() == [0, 0, 1, 1, 3]
    assert hashes.tolist() == [word_hash(w) for w in "abcde"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=30), st.integers(2, 9))
def test_rolling_ngrams_equal_the_vectorized_ones(words: list[int], n: int) -> None:
    rolling = RollingNgrams(n)
    streamed = [h for h in map(rolling.push, words) if h is not None]
    assert streamed == ngram_hashes(np.array(words, dtype=np.uint64), n).tolist()
