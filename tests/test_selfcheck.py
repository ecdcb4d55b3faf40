"""The start-up self-check: leakguard's fast path is compared with stock Presidio when the
PII detector is built; a Presidio change it depends on makes that part run stock, with one
warning, instead of failing every response."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from leakguard.config import PIIConfig, parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.pii.analyzer import LEAN_PARTS, plan_analyzer, stock_analyzer
from leakguard.pii.context import LeanContextEnhancer
from leakguard.pii.detector import PIIDetector
from leakguard.pii.engine import LeanArtifacts
from leakguard.pii.selfcheck import CHECK_TEXTS, PathReport

_LOGGER = "leakguard.pii.selfcheck"
# Values in the check texts that must never reach a log record.
_VALUES = ("078-05-1120", "jane.doe@example.com", "Jane Doe", "4111 1111 1111 1111", "D1234567")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == _LOGGER and r.levelno >= logging.WARNING]


def _results(analyzer: Any, text: str) -> list[tuple[Any, ...]]:
    found = analyzer.analyze(text=text, language="en", score_threshold=0.0)
    return [(r.entity_type, r.start, r.end, round(r.score, 9)) for r in found]


def _report(detector: PIIDetector) -> PathReport:
    assert detector.path_report is not None
    return detector.path_report


@pytest.mark.parametrize("model", ["none", "models/pii-ner/model"])
def test_normal_start_up_runs_the_fast_path_without_a_warning(
    model: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    detector = PIIDetector(PIIConfig(spacy_model=model))
    report = _report(detector)
    assert (report.path, report.stock_parts, report.differed) == ("lean", (), ())
    assert report.presidio.startswith("2.2.")
    assert report.check_ms > 0
    assert not _warnings(caplog)
    analyzer = detector.analyzer
    assert type(analyzer).__name__ == "LeanAnalyzerEngine"
    assert isinstance(analyzer.context_aware_enhancer, LeanContextEnhancer)
    assert isinstance(analyzer.nlp_engine.process_text("a text", "en"), LeanArtifacts)


def test_every_recognizer_of_the_default_analyzer_finds_something_in_the_check_texts() -> None:
    """The check covers every recognizer family: each recognizer (Presidio's, leakguard's,
    the NER) has a result on some check text, so a change to any of them can show."""
    plan = plan_analyzer(PIIConfig(spacy_model="models/pii-ner/model"))
    engine = stock_analyzer(plan).nlp_engine
    artifacts = [(text, engine.process_text(text, "en")) for _, text in CHECK_TEXTS]
    silent = [
        p.recognizer.name
        for p in plan.recognizers
        if not any(
            p.recognizer.analyze(
                text=text, entities=p.recognizer.supported_entities, nlp_artifacts=nlp
            )
            for text, nlp in artifacts
        )
    ]
    assert silent == []
    assert len(plan.recognizers) >= 20


def test_a_presidio_change_to_the_context_walk_falls_back_for_that_part(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Simulated upgrade: Presidio's enhancer finds the words around a match with another
    private method, so its ``_extract_surrounding_words`` (which leakguard's enhancer
    replaces) no longer says what stock Presidio does: stock scores change, the fast
    path's would not. That part runs Presidio's own enhancer; the rest stays fast."""
    monkeypatch.setattr(
        LemmaContextAwareEnhancer, "_extract_surrounding_words", lambda self, *a, **k: []
    )
    caplog.set_level(logging.INFO, logger=_LOGGER)
    config = PIIConfig(spacy_model="none")
    detector = PIIDetector(config)
    report = _report(detector)
    assert (report.path, report.stock_parts) == ("mixed", ("context",))
    assert {"contact", "context"} <= set(report.differed)
    (warning,) = _warnings(caplog)
    message = warning.getMessage()
    assert "gave other results" in message
    assert "context" in message
    assert not any(value in message for value in _VALUES)
    analyzer = detector.analyzer
    assert type(analyzer.context_aware_enhancer) is LemmaContextAwareEnhancer
    assert type(analyzer).__name__ == "LeanAnalyzerEngine"  # the other parts stay
    # It scans as stock Presidio does now, on the check texts and on others.
    stock = stock_analyzer(plan_analyzer(config))
    texts = [text for _, text in CHECK_TEXTS] + ["my ssn: 536-22-4712, passport 912803456"]
    for text in texts:
        assert _results(analyzer, text) == _results(stock, text)
    findings = detector.detect("write to jane.doe@example.com, ssn 536-22-4712")
    assert [(f.label, f.start, f.end) for f in findings] == [
        ("EMAIL_ADDRESS", 9, 29),
        ("US_SSN", 35, 46),
    ]


def test_a_presidio_change_the_lean_artifacts_cannot_serve_falls_back_to_its_own(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Simulated upgrade: Presidio's enhancer reads its artifacts' tokens as spaCy tokens
    (``token.text``); leakguard's lean artifacts hold token strings, so the fast path
    raises. The detector still builds, warns once, and scans with Presidio's artifacts."""
    enhance = LemmaContextAwareEnhancer.enhance_using_context

    def reads_tokens(self: Any, *args: Any, **kwargs: Any) -> Any:
        artifacts = kwargs["nlp_artifacts"] if "nlp_artifacts" in kwargs else args[2]
        assert all(isinstance(token.text, str) for token in artifacts.tokens)
        return enhance(self, *args, **kwargs)

    monkeypatch.setattr(LemmaContextAwareEnhancer, "enhance_using_context", reads_tokens)
    caplog.set_level(logging.INFO, logger=_LOGGER)
    config = PIIConfig(spacy_model="none")
    detector = PIIDetector(config)
    report = _report(detector)
    assert (report.path, report.stock_parts) == ("mixed", ("engine",))
    (warning,) = _warnings(caplog)
    assert "raised AttributeError" in warning.getMessage()
    assert not any(value in warning.getMessage() for value in _VALUES)
    analyzer = detector.analyzer
    assert not isinstance(analyzer.nlp_engine.process_text("a text", "en"), LeanArtifacts)
    stock = stock_analyzer(plan_analyzer(config))
    for _, text in CHECK_TEXTS:
        assert _results(analyzer, text) == _results(stock, text)
    findings = detector.detect("my ssn is 536-22-4712")
    assert [(f.label, f.start, f.end) for f in findings] == [("US_SSN", 10, 21)]


def test_when_no_part_alone_agrees_the_whole_analyzer_runs_stock(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Both simulated changes at once, and the cached registry and result grouping made to
    differ too: everything leakguard replaces runs Presidio's own code."""
    from leakguard.pii import analyzer as built

    monkeypatch.setattr(
        LemmaContextAwareEnhancer, "_extract_surrounding_words", lambda self, *a, **k: []
    )
    # every part of the fast path "differs": the check's comparison says so for each one
    monkeypatch.setattr("leakguard.pii.selfcheck.compare", lambda expected, got: ("contact",))
    caplog.set_level(logging.INFO, logger=_LOGGER)
    detector = PIIDetector(PIIConfig(spacy_model="none"))
    report = _report(detector)
    assert (report.path, report.stock_parts) == ("stock", LEAN_PARTS)
    assert len(_warnings(caplog)) == 1
    assert type(detector.analyzer) is AnalyzerEngine
    assert type(detector.analyzer.context_aware_enhancer) is LemmaContextAwareEnhancer
    assert type(detector.analyzer.registry) is not built.CachingRecognizerRegistry
    findings = detector.detect("write to jane.doe@example.com")
    assert [(f.label, f.start, f.end) for f in findings] == [("EMAIL_ADDRESS", 9, 29)]


def test_the_path_is_reported_on_metrics() -> None:
    guard = Guard(parse_config({"pii": {"spacy_model": "none"}}))
    middleware = LeakGuardMiddleware(lambda *_: None, guard=guard)  # type: ignore[arg-type]
    lines = middleware.metrics.render_own().splitlines()
    assert 'leakguard_pii_path_info{path="lean",stock_parts=""} 1' in lines
    report = guard.detectors[0].path_report  # type: ignore[attr-defined]
    assert report.as_dict()["path"] == "lean"
    assert report.as_dict()["stock_parts"] == []
    mixed = PathReport("mixed", ("context", "engine"))
    assert 'leakguard_pii_path_info{path="mixed",stock_parts="context,engine"} 1' in (
        mixed.prometheus()
    )


def test_the_batch_detector_runs_on_stock_presidio_too() -> None:
    """The self-check's last resort is Presidio's own engine: the sanitizer's batches still
    find what the detector finds text by text."""
    from leakguard.pii.batch import BatchPIIDetector

    config = PIIConfig(spacy_model="models/pii-ner/model")
    detector = PIIDetector(config, analyzer=stock_analyzer(plan_analyzer(config)))
    texts = [text for _, text in CHECK_TEXTS] + ["nothing to see here", "Dr. Maria Garcia"]
    key = [[(f.label, f.start, f.end, f.score) for f in detector.detect(t)] for t in texts]
    batch = BatchPIIDetector(detector, batch_size=3).detect_batch(texts)
    assert [[(f.label, f.start, f.end, f.score) for f in found] for found in batch] == key
    assert sum(map(len, key)) >= 20
