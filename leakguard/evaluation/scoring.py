"""Scoring detectors on labelled data, the way a redactor is judged.

A data set is JSON Lines, one object per text::

    {"text": "...", "spans": [{"start": 8, "end": 16, "label": "PERSON"}, ...]}

* **recall** — the fraction of labelled spans at least ``coverage`` (default 80%) covered
  by the union of the system's findings, whatever their label (a redactor only needs to
  hide the value);
* **precision** — the fraction of findings that touch (overlap) some labelled span;
* **F2** — recall weighted twice as much as precision;
* **ms per text** — wall time of one call, median over the data set.

Per-label rows give recall by the *labelled* label and precision by the *predicted* label.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leakguard.exceptions import DatasetError

__all__ = [
    "EvalReport",
    "LabelledText",
    "Span",
    "evaluate",
    "format_table",
    "load_dataset",
]


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    spans: tuple[Span, ...]


System = Callable[[str], Sequence[Span]]


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Scores of one system on one data set."""

    system: str
    texts: int
    gold: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)
    ms_per_text: float = 0.0

    @property
    def recall(self) -> float:
        return _ratio(sum(self.caught.values()), sum(self.gold.values()))

    @property
    def precision(self) -> float:
        return _ratio(sum(self.correct.values()), sum(self.predicted.values()))

    @property
    def f2(self) -> float:
        return f_beta(self.precision, self.recall, beta=2.0)

    def label_recall(self, label: str) -> float:
        return _ratio(self.caught[label], self.gold[label])

    def label_precision(self, label: str) -> float:
        return _ratio(self.correct[label], self.predicted[label])

    def to_dict(self) -> dict[str, object]:
        labels = sorted(set(self.gold) | set(self.predicted))
        return {
            "system": self.system,
            "texts": self.texts,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "f2": round(self.f2, 4),
            "ms_per_text": round(self.ms_per_text, 3),
            "labels": {
                label: {
                    "gold": self.gold[label],
                    "recall": round(self.label_recall(label), 4),
                    "predicted": self.predicted[label],
                    "precision": round(self.label_precision(label), 4),
                }
                for label in labels
            },
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def f_beta(precision: float, recall: float, *, beta: float) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def load_dataset(path: str | Path) -> list[LabelledText]:
    """Read a JSON Lines data set; a malformed line raises :class:`DatasetError`."""
    path = Path(path)
    items: list[LabelledText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                items.append(_parse_line(line, str(path), number))
    return items


def _parse_line(line: str, path: str, number: int) -> LabelledText:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, number, f"not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise DatasetError(path, number, 'expected an object with a string "text"')
    text: str = obj["text"]
    spans = []
    for raw in obj.get("spans", []):
        try:
            span = Span(int(raw["start"]), int(raw["end"]), str(raw["label"]))
        except (KeyError, TypeError, ValueError):
            raise DatasetError(
                path, number, 'each span needs integer "start", "end" and a "label"'
            ) from None
        if not 0 <= span.start < span.end <= len(text):
            raise DatasetError(path, number, f"span {span.start}..{span.end} is outside the text")
        spans.append(span)
    return LabelledText(text, tuple(spans))


def _covered(span: Span, predictions: Sequence[Span]) -> float:
    hit = bytearray(span.end - span.start)
    for p in predictions:
        lo, hi = max(p.start, span.start), min(p.end, span.end)
        for i in range(lo - span.start, hi - span.start):
            hit[i] = 1
    return sum(hit) / len(hit)


def evaluate(
    system: System,
    dataset: Iterable[LabelledText],
    *,
    name: str,
    coverage: float = 0.8,
) -> EvalReport:
    """Run ``system`` on every text and score it."""
    report = EvalReport(system=name, texts=0)
    timings: list[float] = []
    count = 0
    for item in dataset:
        count += 1
        started = time.perf_counter()
        predictions = list(system(item.text))
        timings.append((time.perf_counter() - started) * 1000)
        for span in item.spans:
            report.gold[span.label] += 1
            report.caught[span.label] += _covered(span, predictions) >= coverage
        for p in predictions:
            report.predicted[p.label] += 1
            report.correct[p.label] += any(p.start < g.end and g.start < p.end for g in item.spans)
    return EvalReport(
        system=name,
        texts=count,
        gold=report.gold,
        caught=report.caught,
        predicted=report.predicted,
        correct=report.correct,
        ms_per_text=statistics.median(timings) if timings else 0.0,
    )


def format_table(reports: Sequence[EvalReport], *, markdown: bool = False) -> str:
    """Systems side by side: overall figures, then recall per labelled label and
    precision per predicted label."""
    head = ["", *[r.system for r in reports]]
    rows: list[list[str]] = [
        ["recall", *[f"{r.recall:.3f}" for r in reports]],
        ["precision", *[f"{r.precision:.3f}" for r in reports]],
        ["F2", *[f"{r.f2:.3f}" for r in reports]],
        ["ms per text (median)", *[f"{r.ms_per_text:.1f}" for r in reports]],
    ]
    for label in sorted(set().union(*(r.gold for r in reports))):
        n = reports[0].gold[label]
        rows.append([f"recall {label} (n={n})", *[f"{r.label_recall(label):.3f}" for r in reports]])
    for label in sorted(set().union(*(r.predicted for r in reports))):
        cells = [
            f"{r.label_precision(label):.3f} ({r.predicted[label]})" if r.predicted[label] else "-"
            for r in reports
        ]
        rows.append([f"precision {label} (found)", *cells])
    return _render(head, rows, markdown=markdown)


def _render(head: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [head, *rows])
