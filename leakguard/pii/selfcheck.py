"""The start-up self-check: leakguard's fast path against stock Presidio.

Parts of the analyzer lean on Presidio's private methods and internals for speed
(:data:`~leakguard.pii.analyzer.LEAN_PARTS`: the windowed pattern searches, the regex
searches that keep the GIL, the cached registry, the engine's grouping of results, the
context enhancer's walk, the lean NLP artifacts). presidio-analyzer is pinned to a minor
version for that reason, but a patch release may still change what they rely on. So when
the PII detector is built, :func:`checked_analyzer` runs the analyzer on a few fixed texts
(:data:`CHECK_TEXTS`: every recognizer family, context words near and out of reach) and
compares its results (label, offsets, score, recognizer) with stock Presidio's: its
``AnalyzerEngine`` on its ``SpacyNlpEngine`` and context enhancer, with the same
recognizers as they were made (:func:`~leakguard.pii.analyzer.stock_analyzer`).

Same results: the fast path runs. Any difference (or an exception in the fast path): each
part is tried alone on top of the stock path, the parts that still agree are kept and the
others run stock; if the kept ones together still differ, everything runs stock. One
warning names the parts and the texts (by name, never their content) that differed; the
detector's :class:`PathReport` says which path runs (also on ``/metrics``). An
upgrade of Presidio then costs speed, never every response failing closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

from leakguard.config import PIIConfig

__all__ = ["CHECK_TEXTS", "PathReport", "checked_analyzer", "compare"]

_log = logging.getLogger(__name__)

# Fixed texts, each named; together they hold a match of every recognizer the analyzer
# has by default (Presidio's and leakguard's), the context words their scores rise with,
# one out of the context walk's reach, matches at the start and at the end of a text,
# names and addresses for the NER. All values are the usual documentation examples.
CHECK_TEXTS: tuple[tuple[str, str], ...] = (
    (
        "contact",
        "Contact Jane Doe at jane.doe@example.com or call her cell (212) 555-0147; "
        "her SSN is 078-05-1120 and her ITIN 912-70-1234.",
    ),
    (
        "finance",
        "Wire it to IBAN GB82 WEST 1234 5698 7654 32 or DE89370400440532013000, pay by card "
        "4111 1111 1111 1111 (exp 04/29), bank account 12345678901, routing 021000021.",
    ),
    (
        "network",
        "Server 192.168.12.7 and 2001:db8::8a2e:370:7334 (MAC 00:1B:44:11:3A:B7) logged "
        "request 123e4567-e89b-12d3-a456-426614174000 from https://example.org/login "
        "on 2024-03-05 at 10:30.",
    ),
    (
        "ids",
        "Driver license D1234567 (DL A123-4567-8901), passport 912803456, DEA number "
        "AB1234563, NHS number "
        "943 476 5919, bitcoin 1BoatSLRHtKNngkdXEeobR76b53LETtpyT.",
    ),
    (
        "names",
        "Dr. John Smith lives at 42 Baker Street, London NW1 6XE, UK.\n"
        "Name: Maria Garcia\nkey AKIAIOSFODNN7EXAMPLE",
    ),
    (
        "context",
        "212-555-0147 is the number. ssn alpha bravo charlie delta echo (078-05-1122) "
        "and ssn alpha bravo 078-05-1121\n\n  phone\t\t212-555-0147",
    ),
)

Path = Literal["lean", "mixed", "stock", "unchecked"]


@dataclass(frozen=True, slots=True)
class PathReport:
    """Which path the PII analyzer runs: ``lean`` (all of leakguard's fast path),
    ``mixed`` (the ``stock_parts`` run Presidio's own code), ``stock`` (all of them do),
    ``unchecked`` (stock Presidio itself failed on the check texts, so nothing could be
    compared: the fast path runs). ``differed`` names the check texts that differed."""

    path: Path
    stock_parts: tuple[str, ...] = ()
    differed: tuple[str, ...] = ()
    check_ms: float = 0.0
    presidio: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "stock_parts": list(self.stock_parts),
            "presidio": self.presidio,
            "check_ms": round(self.check_ms, 1),
        }

    def prometheus(self) -> list[str]:
        """Exposition lines: an info gauge labelled with the path and the stock parts."""
        parts = ",".join(self.stock_parts)
        return [
            "# HELP leakguard_pii_path_info Which PII analyzer path runs (start-up self-check).",
            "# TYPE leakguard_pii_path_info gauge",
            f'leakguard_pii_path_info{{path="{self.path}",stock_parts="{parts}"}} 1',
        ]


@dataclass(frozen=True, slots=True)
class _Run:
    results: tuple[tuple[tuple[Any, ...], ...], ...] | None  # per text; None: it raised
    error: str | None = None  # the exception's type, when it raised


def _run(analyzer: Any, config: PIIConfig, entities: list[str]) -> _Run:
    found = []
    try:
        for _, text in CHECK_TEXTS:
            results = analyzer.analyze(
                text=text, language=config.language, entities=entities, score_threshold=0.0
            )
            found.append(
                tuple(
                    (
                        r.entity_type,
                        r.start,
                        r.end,
                        round(float(r.score), 9),
                        (r.recognition_metadata or {}).get("recognizer_name"),
                    )
                    for r in results
                )
            )
    except Exception as exc:  # a changed Presidio may raise anything: that is the finding
        return _Run(None, type(exc).__name__)
    return _Run(tuple(found))


def compare(expected: _Run, got: _Run) -> tuple[str, ...]:
    """The names of the check texts on which ``got`` differs from ``expected`` (all of
    them when ``got`` raised)."""
    if got.results is None or expected.results is None:
        return tuple(name for name, _ in CHECK_TEXTS)
    return tuple(
        name
        for (name, _), a, b in zip(CHECK_TEXTS, expected.results, got.results, strict=True)
        if a != b
    )


def checked_analyzer(
    config: PIIConfig, *, lean: Collection[str] | None = None
) -> tuple[Any, PathReport]:
    """The analyzer for ``config`` and the path it runs, after the self-check (module
    docstring). ``lean`` limits the fast path to those parts (default: all)."""
    from leakguard.pii.analyzer import LEAN_PARTS, assemble, plan_analyzer, stock_analyzer

    wanted = tuple(p for p in LEAN_PARTS if lean is None or p in lean)
    plan = plan_analyzer(config)
    began = time.perf_counter()
    entities = sorted({e for p in plan.recognizers for e in p.recognizer.supported_entities})
    analyzer = assemble(plan, lean=wanted)
    expected = _run(stock_analyzer(plan), config, entities)
    presidio = _presidio_version()
    if expected.results is None:
        _log.warning(
            "PII self-check: stock Presidio %s raised %s on the check texts, so leakguard's "
            "fast path could not be compared with it and runs unchecked",
            presidio,
            expected.error,
        )
        report = PathReport("unchecked", check_ms=_ms(began), presidio=presidio)
        return analyzer, report
    got = _run(analyzer, config, entities)
    differed = compare(expected, got)
    if not differed:
        stock = tuple(p for p in LEAN_PARTS if p not in wanted)
        path: Path = "lean" if not stock else "mixed"
        return analyzer, PathReport(path, stock, check_ms=_ms(began), presidio=presidio)
    # Each part alone on the stock path: those that still agree are kept.
    kept = [
        part
        for part in wanted
        if not compare(expected, _run(assemble(plan, lean=(part,)), config, entities))
    ]
    analyzer = assemble(plan, lean=kept)
    if kept and compare(expected, _run(analyzer, config, entities)):
        kept = []
        analyzer = assemble(plan, lean=kept)
    if compare(expected, _run(analyzer, config, entities)):
        # leakguard's engine around Presidio's artifacts differs too: Presidio as it is.
        analyzer = stock_analyzer(plan)
    stock = tuple(p for p in LEAN_PARTS if p not in kept)
    report = PathReport(
        "mixed" if kept else "stock",
        stock,
        differed=differed,
        check_ms=_ms(began),
        presidio=presidio,
    )
    _log.warning(
        "PII self-check against stock Presidio %s: leakguard's fast path %s on the check "
        "texts %s; running Presidio's own code for: %s (path %r, leakguard_pii_path_info)",
        presidio,
        f"raised {got.error}" if got.error else "gave other results",
        ", ".join(differed),
        ", ".join(_failed(wanted, kept)) or "every part",
        report.path,
    )
    return analyzer, report


def _failed(wanted: Sequence[str], kept: Sequence[str]) -> list[str]:
    return [p for p in wanted if p not in kept]


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000


def _presidio_version() -> str:
    try:
        return metadata.version("presidio-analyzer")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"
