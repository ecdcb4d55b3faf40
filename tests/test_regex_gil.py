"""Regex matching that keeps the GIL: same matches, no hand-over of the GIL per search."""

from __future__ import annotations

import types
from typing import Any

import pytest
import regex
from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer

from leakguard.config import CustomRecognizer, PIIConfig, RecognizerPattern
from leakguard.pii.analyzer import build_analyzer
from leakguard.pii.regex_gil import HOLD_MAX_CHARS, HeldPattern, _names_global, hold_gil


class _Spy:
    """A stand-in compiled pattern that records the keyword arguments of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> list[Any]:
            self.calls.append((name, kwargs))
            return []

        return call


@pytest.mark.parametrize("method", ["finditer", "search", "match", "fullmatch", "findall", "sub"])
def test_held_pattern_keeps_the_gil_on_short_texts_only(method: str) -> None:
    spy = _Spy()
    before = ("#",) if method == "sub" else ()  # sub(repl, string)
    getattr(HeldPattern(spy), method)(*before, "text")
    assert spy.calls[-1] == (method, {"concurrent": False})
    # a long text lets the GIL go while it is searched, as the regex module does
    getattr(HeldPattern(spy), method)(*before, "x" * (HOLD_MAX_CHARS + 1))
    assert spy.calls[-1][1] == {"concurrent": None}
    getattr(HeldPattern(spy), method)(*before, "x" * HOLD_MAX_CHARS)
    assert spy.calls[-1][1] == {"concurrent": False}
    # an explicit choice is the caller's
    getattr(HeldPattern(spy), method)(*before, "text", concurrent=True)
    assert spy.calls[-1][1] == {"concurrent": True}
    assert [name for name, _ in spy.calls] == [method] * 4


def test_held_pattern_is_the_pattern_otherwise() -> None:
    compiled = regex.compile(r"(\d+)-(\d+)", regex.IGNORECASE)
    held = HeldPattern(compiled)
    assert (held.pattern, held.flags, held.groups) == (
        compiled.pattern,
        compiled.flags,
        compiled.groups,
    )
    text = "call 555-0134 or 555-0188"
    assert [m.span() for m in held.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    assert held.sub("#", text) == compiled.sub("#", text)


def test_pattern_recognizer_gets_its_own_held_patterns() -> None:
    shared = CreditCardRecognizer.PATTERNS  # class-wide: every analyzer's credit card patterns
    before = [(p.compiled_regex, p.compiled_with_flags) for p in shared]
    recognizer = hold_gil(CreditCardRecognizer())
    assert all(isinstance(p.compiled_regex, HeldPattern) for p in recognizer.patterns)
    assert all(p.compiled_with_flags == recognizer.global_regex_flags for p in recognizer.patterns)
    assert [(p.compiled_regex, p.compiled_with_flags) for p in shared] == before
    text = "card 4111 1111 1111 1111 and 4012-8888-8888-1881"
    expected = CreditCardRecognizer().analyze(text, ["CREDIT_CARD"])
    got = recognizer.analyze(text, ["CREDIT_CARD"])
    assert [(r.start, r.end, r.score) for r in got] == [(r.start, r.end, r.score) for r in expected]
    assert len(got) == 2


def test_module_level_regex_calls_are_rebound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The IBAN recognizer calls ``regex.finditer``/``regex.match`` itself (one of them from
    a static method): its copies see a module whose matching keeps the GIL."""
    seen: list[tuple[str, object]] = []
    real_match, real_finditer = regex.match, regex.finditer

    def match(*args: Any, **kwargs: Any) -> Any:
        seen.append(("match", kwargs.get("concurrent")))
        return real_match(*args, **kwargs)

    def finditer(*args: Any, **kwargs: Any) -> Any:
        seen.append(("finditer", kwargs.get("concurrent")))
        return real_finditer(*args, **kwargs)

    monkeypatch.setattr(regex, "match", match)
    monkeypatch.setattr(regex, "finditer", finditer)
    text = "wire it to GB95LTAC39624595711777 today"
    plain = IbanRecognizer().analyze(text, ["IBAN_CODE"])
    assert seen
    assert {c for _, c in seen} == {None}  # Presidio's own: releases the GIL
    seen.clear()
    held = hold_gil(IbanRecognizer())
    got = held.analyze(text, ["IBAN_CODE"])
    assert ("finditer", False) in seen
    assert ("match", False) in seen
    assert {c for _, c in seen} == {False}
    assert [(r.start, r.end, r.score) for r in got] == [(r.start, r.end, r.score) for r in plain]
    assert isinstance(held, IbanRecognizer)
    assert type(held).__name__ == "IbanRecognizer"
    assert type(IbanRecognizer()) is IbanRecognizer  # the class itself is unchanged
    seen.clear()  # over a long text the GIL is let go, as by default
    long_text = "filler words " * (HOLD_MAX_CHARS // 13) + text
    assert len(held.analyze(long_text, ["IBAN_CODE"])) == 1
    # the search of the long text lets it go; the check of the short candidate keeps it
    assert set(seen) == {("finditer", None), ("match", False)}


def test_hold_gil_leaves_the_recognizer_it_was_given_as_presidio_made_it() -> None:
    """The start-up self-check runs the recognizers as made: hold_gil works on a copy."""
    plain: Any = IbanRecognizer()
    patterns = [(p.compiled_regex, p.compiled_with_flags) for p in plain.patterns]
    held: Any = hold_gil(plain)
    assert held is not plain
    assert [(p.compiled_regex, p.compiled_with_flags) for p in plain.patterns] == patterns
    assert all(isinstance(p.compiled_regex, HeldPattern) for p in held.patterns)
    assert type(plain) is IbanRecognizer


def test_user_recognizer_with_other_flags_still_matches() -> None:
    recognizer = PatternRecognizer(
        supported_entity="TICKET",
        patterns=[Pattern("ticket", r"tk-\d{4}", 0.9)],
        global_regex_flags=regex.IGNORECASE,
    )
    held = hold_gil(recognizer)
    assert [(r.start, r.end) for r in held.analyze("see TK-1234", ["TICKET"])] == [(4, 11)]
    # analyze with other flags than it was compiled with: Presidio recompiles (still held)
    found = held.analyze("see TK-1234", ["TICKET"], regex_flags=regex.ASCII)
    assert found == []
    assert isinstance(held.patterns[0].compiled_regex, HeldPattern)


def test_every_regex_call_of_the_built_analyzer_keeps_the_gil() -> None:
    """No recognizer of leakguard's analyzer is left with a compiled ``regex`` pattern or a
    method that calls the ``regex`` module directly (a new Presidio recognizer would be)."""
    config = PIIConfig(
        spacy_model="none",
        entities=["EMAIL_ADDRESS", "IBAN_CODE", "CODENAME", "TICKET"],
        deny_lists={"CODENAME": ["bluebird"]},
        recognizers=[
            CustomRecognizer(
                name="tickets", label="TICKET", patterns=[RecognizerPattern(regex=r"TK-\d+")]
            )
        ],
    )
    analyzer = build_analyzer(config)
    # A user's pattern may backtrack for long: it lets the GIL go, so that the event loop
    # can still time the scan out.
    (custom,) = [r for r in analyzer.registry.recognizers if r.name == "tickets"]
    assert not any(isinstance(p.compiled_regex, HeldPattern) for p in custom.patterns)
    for registered in analyzer.registry.recognizers:
        if registered is custom:
            continue
        # a windowed recognizer (leakguard.pii.windows) holds the one that searches
        recognizer = getattr(registered, "inner", registered)
        for pattern in getattr(recognizer, "patterns", None) or []:
            assert isinstance(pattern.compiled_regex, HeldPattern), recognizer.name
        for cls in type(recognizer).__mro__:
            for name, value in vars(cls).items():
                function = getattr(value, "__func__", value)
                if not isinstance(function, types.FunctionType):
                    continue
                if function.__globals__.get("re") is not regex:
                    continue
                if not _names_global(function.__code__, "re"):
                    continue
                # defined with the module, but overridden by a held copy in a subclass
                resolved = getattr(type(recognizer), name)
                resolved = getattr(resolved, "__func__", resolved)
                assert resolved is not function, f"{recognizer.name}: {cls.__name__}.{name}"
