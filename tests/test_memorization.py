from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakguard.config import MemorizationConfig, parse_config
from leakguard.exceptions import ConfigError
from leakguard.findings import Finding, OutcomeAction
from leakguard.guard import Guard
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.detector import MemorizationDetector
from leakguard.memorization.index import IndexParams
from leakguard.memorization.ngrams import ngram_hashes, word_hashes
from leakguard.memorization.normalize import lexemes

_SYLLABLES = ["ka", "lo", "mi", "re", "tu", "sa", "ne", "po", "vi", "da", "gu", "fe", "ri"]


def _vocabulary(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


VOCAB = _vocabulary(3000, seed=1)
CORPUS_RNG = random.Random(2)
DOCUMENTS = [[CORPUS_RNG.choice(VOCAB) for _ in range(400)] for _ in range(20)]
LICENCE = [CORPUS_RNG.choice(VOCAB) for _ in range(120)]


def _index(documents: list[list[str]], n: int = 8) -> BloomFilter:
    bloom = BloomFilter.create(expected_items=20_000, params=IndexParams(ngram=n).header_params())
    for words in documents:
        bloom.add(ngram_hashes(word_hashes(lexemes(" ".join(words))), n))
    return bloom


INDEX = _index([*DOCUMENTS, LICENCE])
INDEX6 = _index(DOCUMENTS, n=6)
ALLOW = _index([LICENCE])


def fresh(count: int, seed: int) -> list[str]:
    """Words in a random order that the index has never seen (not as 8-grams)."""
    rng = random.Random(f"fresh-{seed}")
    return [rng.choice(VOCAB) for _ in range(count)]


def detector(**config: Any) -> MemorizationDetector:
    index = INDEX6 if config.get("profile") == "strict" else INDEX
    allow = config.pop("allow", None)
    return MemorizationDetector(
        MemorizationConfig(index="corpus.lgx", **config), index=index, allow_index=allow
    )


def _span_text(findings: list[Finding], text: str) -> list[str]:
    return [text[f.start : f.end] for f in findings]


def test_verbatim_span_is_found_with_exact_offsets() -> None:
    quote = " ".join(DOCUMENTS[3][100:160])
    text = " ".join(fresh(30, 1)) + ". As I recall: " + quote + ". " + " ".join(fresh(30, 2))
    [finding] = detector().detect(text)
    assert text[finding.start : finding.end] == quote
    assert finding.label == "MEMORIZED"
    assert finding.detector == "memorization"
    assert finding.score == 1.0
    assert dict(finding.details) == {
        "mode": "verbatim",
        "words": 60,
        "run_words": 60,
        "coverage": 1.0,
    }


def test_run_shorter_than_min_words_is_not_a_finding() -> None:
    words = MemorizationConfig().min_words
    text = " ".join(fresh(20, 3) + DOCUMENTS[0][10 : 10 + words - 1] + fresh(20, 4))
    assert detector().detect(text) == []
    text = " ".join(fresh(20, 3) + DOCUMENTS[0][10 : 10 + words] + fresh(20, 4))
    assert len(detector().detect(text)) == 1


def test_unrelated_text_has_no_findings() -> None:
    text = " ".join(fresh(2000, 5))
    assert detector().detect(text) == []


def test_short_texts_have_no_findings() -> None:
    assert detector().detect("") == []
    assert detector().detect(" ".join(DOCUMENTS[0][:7])) == []


def _caps(words: list[str]) -> str:
    return " ".join(words).upper()


def _respaced(words: list[str]) -> str:
    rng = random.Random(0)
    return "".join(w + rng.choice([" ", "  ", "\n", "\t ", "\n\n"]) for w in words)


def _punctuated(words: list[str]) -> str:
    rng = random.Random(0)
    return " ".join(w + rng.choice(["", ",", ";", " -", ".", "!", "?", ":"]) for w in words)


def _zero_width(words: list[str]) -> str:
    return " ".join(w[:2] + "\u200b" + w[2:] + "\u200d" for w in words)


def _lookalikes(words: list[str]) -> str:
    return " ".join(words).replace("a", "\u0430").replace("o", "\u03bf").replace("e", "\u0435")


def _markdown(words: list[str]) -> str:
    lines = []
    for i in range(0, len(words), 6):
        chunk = words[i : i + 6]
        decorated = [f"**{chunk[0]}**", f"_{chunk[1]}_", *chunk[2:]] if len(chunk) > 2 else chunk
        lines.append(random.Random(i).choice(["- ", "> ", "* ", "## ", ""]) + " ".join(decorated))
    return "\n".join(lines)


def _full_width(words: list[str]) -> str:
    return " ".join("".join(chr(ord(c) + 0xFEE0) for c in w) for w in words)


def _title(words: list[str]) -> str:
    return " ".join(w.title() for w in words)


@pytest.mark.parametrize(
    "transform",
    [_caps, _title, _respaced, _punctuated, _zero_width, _lookalikes, _markdown, _full_width],
)
def test_verbatim_span_survives_the_known_evasions(transform: Callable[[list[str]], str]) -> None:
    quote = transform(DOCUMENTS[5][40:90])
    text = " ".join(fresh(25, 6)) + "\n\n" + quote + "\n\n" + " ".join(fresh(25, 7))
    findings = detector().detect(text)
    assert len(findings) == 1
    assert findings[0].details["mode"] == "verbatim"
    assert findings[0].details["words"] == 50
    start = text.index(quote)
    # The span runs from the first to the last letter of the quote (decoration excluded).
    assert start <= findings[0].start < start + 8
    assert start + len(quote) - 8 < findings[0].end <= start + len(quote)


def _edited(words: list[str], share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = list(words)
    for i in rng.sample(range(len(out)), round(share * len(out))):
        out[i] = rng.choice(["quux", "the", "and", "zorb"])
    return out


def test_lightly_edited_span_is_found_in_near_verbatim_mode() -> None:
    edited = _edited(DOCUMENTS[7][0:100], 0.05, seed=3)
    text = " ".join(fresh(30, 8) + edited + fresh(30, 9))
    findings = detector().detect(text)
    assert [f.details["mode"] for f in findings] == ["near"]
    assert 0.8 < findings[0].score <= 1.0
    assert int(findings[0].details["covered_words"]) <= int(findings[0].details["words"])
    assert detector(near_verbatim=False).detect(text) == []


def test_strict_profile_uses_shorter_ngrams_and_spans() -> None:
    config = MemorizationConfig(profile="strict")
    assert (config.ngram, config.min_words) == (6, 24)
    assert MemorizationConfig(profile="strict", min_words=30).min_words == 30
    text = " ".join(fresh(10, 10) + DOCUMENTS[2][0:26] + fresh(10, 11))
    assert len(detector(profile="strict").detect(text)) == 1
    assert detector().detect(text) == []


def test_inconsistent_memorization_config_is_rejected() -> None:
    with pytest.raises(ConfigError, match="min_words"):
        parse_config({"memorization": {"ngram": 10, "min_words": 8}})
    with pytest.raises(ConfigError, match="profile"):
        parse_config({"memorization": {"profile": "paranoid"}})


def test_quoted_boilerplate_is_labelled_and_allowed_by_default() -> None:
    text = "Here is the licence: " + " ".join(LICENCE[:80]) + ". Enjoy."
    memorized = " ".join(DOCUMENTS[1][:60])
    det = detector(allow=ALLOW)
    findings = det.detect(text + " " + " ".join(fresh(60, 13)) + " " + memorized)
    assert [f.label for f in findings] == ["BOILERPLATE", "MEMORIZED"]
    guard = Guard(parse_config({"pii": {"enabled": False}}), detectors=[det])
    outcome = guard.scan(text)
    assert outcome.action is OutcomeAction.PASS
    assert outcome.text == text
    assert [f.label for f in outcome.findings] == ["BOILERPLATE"]


def test_guard_redacts_memorized_text_by_policy() -> None:
    memorized = " ".join(DOCUMENTS[4][200:260])
    text = "Sure. " + memorized + " Hope that helps."
    guard = Guard(parse_config({"pii": {"enabled": False}}), detectors=[detector()])
    assert guard.scan(text).text == "Sure. <MEMORIZED> Hope that helps."
    blocking = Guard(
        parse_config({"pii": {"enabled": False}, "policy": {"actions": {"MEMORIZED": "block"}}}),
        detectors=[detector()],
    )
    assert blocking.scan(text).action is OutcomeAction.BLOCK


# -- streaming ------------------------------------------------------------------------------


def _mixed_text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 4)):
        parts += fresh(rng.randint(0, 60), rng.randint(0, 10**6))
        doc = rng.choice(DOCUMENTS)
        start = rng.randint(0, 300)
        piece = doc[start : start + rng.randint(5, 100)]
        if rng.random() < 0.5:
            piece = _edited(piece, rng.choice([0.05, 0.1]), rng.randint(0, 99))
        parts += piece
    text = " ".join(parts)
    if rng.random() < 0.3:
        text = text.upper().replace(" ", " \u200b", 5)
    return text


def _stream(det: MemorizationDetector, text: str, cuts: list[int]) -> list[Finding]:
    stream = det.stream()
    found: list[Finding] = []
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    for a, b in itertools.pairwise(bounds):
        hold = stream.hold_from
        new = stream.feed(text[a:b])
        assert all(f.start >= hold for f in new)
        found += new
        assert stream.hold_from >= hold
        active = stream.active
        if active is not None:
            assert active.start >= stream.hold_from
    found += stream.flush()
    return sorted(found, key=lambda f: (f.start, f.end))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
    profile=st.sampled_from(["default", "strict"]),
)
def test_any_split_of_a_stream_yields_the_findings_of_the_whole_text(
    seed: int, cuts: list[int], profile: str
) -> None:
    text = _mixed_text(random.Random(seed))
    det = detector(profile=profile)
    whole = sorted(det.detect(text), key=lambda f: (f.start, f.end))
    assert _stream(det, text, cuts) == whole


def test_word_by_word_stream_matches_and_holds_back_little_on_clean_text() -> None:
    det = detector()
    words = fresh(300, 12)
    stream = det.stream()
    text = ""
    for word in words:
        text += word + " "
        assert stream.feed(word + " ") == []
        held = text[stream.hold_from :]
        assert len(held.split()) <= 8
    assert stream.flush() == []


def test_stream_reports_an_active_finding_before_the_run_ends() -> None:
    det = detector()
    quote = DOCUMENTS[6][0:200]
    stream = det.stream()
    text = "Intro words here. "
    stream.feed(text)
    for i, word in enumerate(quote):
        stream.feed(word + " ")
        text += word + " "
        if i == 60:
            active = stream.active
            assert active is not None
            assert text[active.start : active.end] == " ".join(quote[:61])
    [finding] = stream.feed("zzz yyy xxx www vvv uuu ttt sss rrr. ") + stream.flush()
    assert text[finding.start : finding.end] == " ".join(quote)


def test_boilerplate_label_is_the_same_in_streams() -> None:
    det = detector(allow=ALLOW)
    text = " ".join(["Licence:", *LICENCE[:80], *fresh(60, 14), *DOCUMENTS[1][:60]])
    whole = det.detect(text)
    assert [f.label for f in whole] == ["BOILERPLATE", "MEMORIZED"]
    assert _stream(det, text, list(range(0, len(text), 5))) == whole


def test_a_flushed_stream_refuses_more_text() -> None:
    stream = detector().stream()
    stream.flush()
    with pytest.raises(ValueError, match="flushed"):
        stream.feed("more")


def test_stream_memory_stays_bounded_inside_a_long_memorized_run() -> None:
    """A 3,000-word memorized passage: the stream keeps O(window) words, not O(run)."""
    long_doc = [random.Random(f"long-{i}").choice(VOCAB) for i in range(3000)]
    det = MemorizationDetector(
        MemorizationConfig(index="long.lgx"), index=_index([long_doc]), allow_index=None
    )
    stream = det.stream()
    text = ""
    kept = 0
    for word in long_doc:
        stream.feed(word + " ")
        text += word + " "
        kept = max(kept, len(stream._starts))  # the per-word buffer
    assert kept <= 50 + 3 * 8 + 64
    assert stream.hold_from == 0  # the run is still open: nothing released ...
    assert stream.active is not None  # ... but it is certain and can be redacted already
    [finding] = stream.flush()
    assert (finding.start, finding.end) == (0, len(text) - 1)
    assert det.detect(text) == [finding]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), step=st.integers(1, 40))
def test_streams_with_an_allow_list_match_the_whole_text(seed: int, step: int) -> None:
    rng = random.Random(seed)
    parts = [*fresh(rng.randint(0, 70), seed), *LICENCE[: rng.randint(0, 120)]]
    parts += [*fresh(rng.randint(0, 70), seed + 1), *rng.choice(DOCUMENTS)[: rng.randint(0, 90)]]
    text = " ".join(parts)
    det = detector(allow=ALLOW)
    whole = sorted(det.detect(text), key=lambda f: (f.start, f.end))
    assert _stream(det, text, list(range(0, len(text), step))) == whole


def test_zero_coverage_still_needs_covered_words() -> None:
    text = " ".join(fresh(120, 15))
    det = detector(coverage=0.0)
    assert det.detect(text) == []
    assert _stream(det, text, list(range(0, len(text), 9))) == []


# -- near-verbatim chains (issue 22) --------------------------------------------------------


def _edits(words: list[str], share: float, kinds: str, seed: int) -> list[str]:
    """Substitute (s), insert (i) or delete (d) ``share`` of the words."""
    rng = random.Random(f"edits-{seed}")
    out = list(words)
    for i in sorted(rng.sample(range(len(words)), round(share * len(words))), reverse=True):
        kind = rng.choice(kinds)
        if kind == "s":
            out[i] = rng.choice(VOCAB)
        elif kind == "d":
            del out[i]
        else:
            out.insert(i, rng.choice(VOCAB))
    return out


def test_a_passage_with_a_tenth_of_its_words_substituted_is_found_with_its_reasons() -> None:
    passage = DOCUMENTS[5][40:100]
    edited = list(passage)
    for i in (4, 14, 24, 34, 44, 54):  # one word in ten
        edited[i] = "zzedited"
    text = " ".join(fresh(40, 20) + edited + fresh(40, 21))
    [finding] = detector().detect(text)
    # From the first to the last run of hits: the 9 clean words between edits give 2 hits.
    assert text[finding.start : finding.end] == " ".join(edited[5:54])
    assert dict(finding.details) == {
        "mode": "near",
        "words": 49,
        "covered_words": 45,  # the four edited words inside are the uncovered ones
        "coverage": 0.9184,
        "runs": 5,
        "gaps": 4,
        "missing_ngrams": 32,  # each substituted word costs 8 n-grams
    }
    assert finding.score == 0.9184
    assert detector(max_gap=7).detect(text) == []  # a gap of 8 misses breaks the chain


def test_a_repeated_indexed_phrase_is_not_a_near_verbatim_passage() -> None:
    """An indexed 10-word phrase repeated (a signature line): copied once, not a passage."""
    phrase = DOCUMENTS[9][0:10]
    words: list[str] = []
    for i in range(8):
        words += phrase + fresh(12, 100 + i)
    text = " ".join(words)
    assert detector().detect(text) == []
    distinct = []  # the same layout with eight different indexed phrases is a chain
    for i in range(8):
        distinct += DOCUMENTS[9][20 * i : 20 * i + 10] + fresh(12, 100 + i)
    [finding] = detector().detect(" ".join(distinct))
    assert finding.details["mode"] == "near"


def test_single_hits_alone_never_make_a_chain() -> None:
    """Chains start and end with runs of two or more hits (chance hits are single)."""
    words: list[str] = []
    for i in range(10):  # 8-word pieces: exactly one hit each, 4 words apart
        words += DOCUMENTS[11][10 * i : 10 * i + 8] + fresh(4, 200 + i)
    assert detector().detect(" ".join(words)) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    share=st.sampled_from([0.05, 0.1, 0.2]),
    kinds=st.sampled_from(["s", "id", "sid"]),
    cuts=st.lists(st.integers(1, 30), max_size=400),
)
def test_edited_passages_in_random_chunks_give_the_findings_of_the_whole_text(
    seed: int, share: float, kinds: str, cuts: list[int]
) -> None:
    rng = random.Random(seed)
    parts: list[str] = []
    for _ in range(rng.randint(1, 3)):
        doc = rng.choice(DOCUMENTS)
        start = rng.randint(0, 250)
        parts += fresh(rng.randint(0, 40), rng.randint(0, 10**6))
        parts += _edits(doc[start : start + rng.randint(30, 150)], share, kinds, seed)
        if rng.random() < 0.3:  # a repeated phrase near it
            parts += (doc[:9] + fresh(5, seed)) * rng.randint(1, 4)
    text = " ".join(parts)
    det = detector()
    whole = sorted(det.detect(text), key=lambda f: (f.start, f.end))
    offsets = list(itertools.accumulate(cuts))
    assert _stream(det, text, offsets) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), cuts=st.lists(st.integers(1, 40)))
def test_the_streaming_guard_redacts_an_edited_passage_as_the_one_shot_scan(
    seed: int, cuts: list[int]
) -> None:
    from leakguard.online.streaming import ResponseGuard

    rng = random.Random(seed)
    doc = rng.choice(DOCUMENTS)
    start = rng.randint(0, 300)
    words = fresh(30, seed) + _edits(doc[start : start + 80], 0.1, "sid", seed) + fresh(30, ~seed)
    text = " ".join(words)
    guard = Guard(parse_config({"pii": {"enabled": False}}), detectors=[detector()])
    expected = guard.scan(text).text
    rg = ResponseGuard(guard, guard.config.online)
    out, pos = [], 0
    for size in [*cuts, len(text)]:
        piece, pos = text[pos : pos + size], pos + size
        if piece and rg.append(("c",), piece).due():
            out.append(rg.release(("c",)))
    out.append(rg.close(("c",)))
    assert "".join(out) == expected
