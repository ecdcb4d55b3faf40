"""The stock baseline is Presidio as it comes: its own engine, its own recognizers."""

from __future__ import annotations

import pytest

from leakguard.evaluation.baseline import stock_presidio
from leakguard.exceptions import ModelNotInstalledError


def test_stock_presidio_runs_presidios_own_engine_and_recognizers() -> None:
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    analyzer = stock_presidio()
    assert type(analyzer.nlp_engine) is SpacyNlpEngine
    modules = {type(r).__module__.split(".")[0] for r in analyzer.registry.recognizers}
    # Only the offline e-mail recognizer (same pattern, bundled suffix list) is leakguard's.
    assert modules == {"presidio_analyzer", "leakguard"}
    ours = [r for r in analyzer.registry.recognizers if type(r).__module__.startswith("leakguard")]
    assert [type(r).__name__ for r in ours] == ["OfflineEmailRecognizer"]
    found = {r.entity_type for r in analyzer.analyze("Mail jane@example.com today", language="en")}
    assert "EMAIL_ADDRESS" in found


def test_a_missing_model_is_an_error_not_a_download() -> None:
    with pytest.raises(ModelNotInstalledError, match="no_such_model"):
        stock_presidio("no_such_model")
