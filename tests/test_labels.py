"""The static label tables of leakguard.labels agree with the real recognizers."""

from __future__ import annotations

import pytest

from leakguard.config import PIIConfig
from leakguard.labels import (
    BUILTIN_LABELS,
    NER_LABELS,
    PRESIDIO_ANY_LANGUAGE,
    PRESIDIO_BY_LANGUAGE,
    label_error,
    producible_labels,
)


@pytest.mark.parametrize("language", ["en", "es", "it", "pl", "de"])
def test_presidio_tables_match_the_predefined_registry(language: str) -> None:
    from presidio_analyzer import RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language])
    real = {
        entity
        for recognizer in registry.recognizers
        if recognizer.supported_language == language
        and type(recognizer).__name__ != "SpacyRecognizer"
        for entity in recognizer.supported_entities
    }
    table = PRESIDIO_ANY_LANGUAGE | PRESIDIO_BY_LANGUAGE.get(language, frozenset())
    assert real == set(table)


def test_builtin_and_ner_tables_match_the_recognizers_leakguard_builds() -> None:
    from leakguard.pii.analyzer import _NER_ENTITIES
    from leakguard.pii.recognizers import builtin_recognizers

    builtin = {e for r in builtin_recognizers("en") for e in r.supported_entities}
    assert builtin == set(BUILTIN_LABELS)
    assert set(_NER_ENTITIES) == set(NER_LABELS)


def test_producible_labels_follow_the_detectors_that_are_on() -> None:
    full = producible_labels(PIIConfig())
    assert {"US_SSN", "PERSON", "SECRET", "LOCATION"} <= full
    bare = producible_labels(PIIConfig(spacy_model="none", builtin_recognizers=False))
    assert "PERSON" not in bare
    assert "SECRET" not in bare
    assert "US_SSN" in bare


def test_label_errors_suggest_the_closest_label_and_list_the_known_ones() -> None:
    message = label_error("PHONE", where="pii.entities", known={"PHONE_NUMBER", "PERSON"})
    assert message == (
        "unknown label 'PHONE' in pii.entities; did you mean PHONE_NUMBER? "
        "Known: PERSON, PHONE_NUMBER"
    )
    assert label_error("XYZZY", where="x", known={"PERSON"}) == (
        "unknown label 'XYZZY' in x. Known: PERSON"
    )
