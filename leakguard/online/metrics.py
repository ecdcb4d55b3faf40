"""A small Prometheus registry for the online guard (text exposition format 0.0.4).

Label values are closed sets chosen by leakguard (entity labels, actions, reason kinds),
never text from a request or response: nothing here can carry PII. Thread-safe; one
registry per process. With ``leakguard serve --workers N`` the workers share a directory
(:meth:`Metrics.share`): each publishes its exposition there, and ``/metrics`` on any
worker sums every worker's series, so a scrape sees the whole server.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from leakguard._files import write_atomically

__all__ = ["Counter", "Histogram", "Metrics", "merge_expositions", "metrics_route"]

LabelValues = tuple[str, ...]

SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HOLD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: LabelValues, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help_text, tuple(labels)
        self._values: dict[LabelValues, float] = {}
        self._lock = threading.Lock()

    def inc(self, *values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0.0) + amount

    def value(self, *values: str) -> float:
        with self._lock:
            return self._values.get(values, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labels:
            items = [((), 0.0)]
        lines += [f"{self.name}{_labels(self.labels, k)} {_number(v)}" for k, v in items]
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help_text
        self.bounds = tuple(sorted(buckets))
        self._counts = [0] * (len(self.bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.bounds, value)] += 1
            self._sum += value

    @property
    def count(self) -> int:
        with self._lock:
            return sum(self._counts)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            counts, total = list(self._counts), self._sum
        running = 0
        for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
            running += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {running}')
        lines += [f"{self.name}_sum {_number(total)}", f"{self.name}_count {running}"]
        return lines


class Metrics:
    """Every metric the middleware and the proxy report."""

    def __init__(self) -> None:
        self.responses = Counter(
            "leakguard_responses_total",
            "Guarded responses by body kind and outcome.",
            ("kind", "action"),
        )
        self.findings = Counter(
            "leakguard_findings_total", "Findings by label and action.", ("label", "action")
        )
        self.blocks = Counter(
            "leakguard_blocks_total", "Blocked responses by reason kind.", ("reason",)
        )
        self.fail_closed = Counter(
            "leakguard_fail_closed_total",
            "Responses blocked because they could not be scanned (unscannable body, "
            "detector error, time-out, audit sink refusal).",
            ("reason",),
        )
        self.passed_unscanned = Counter(
            "leakguard_passed_unscanned_total",
            "Responses (or parts) delivered unscanned because the config says pass.",
            ("reason",),
        )
        self.sink_refusals = Counter(
            "leakguard_audit_refusals_total", "Scan events the audit sink did not accept."
        )
        self.upstream_errors = Counter(
            "leakguard_upstream_errors_total", "Proxy upstream failures.", ("kind",)
        )
        self.scan_seconds = Histogram(
            "leakguard_scan_seconds", "Scan time per guarded response.", SCAN_BUCKETS
        )
        self.hold_seconds = Histogram(
            "leakguard_holdback_delay_seconds",
            "How long streamed text was held back before it was released.",
            HOLD_BUCKETS,
        )
        self._collectors: list[Callable[[], list[str]]] = []
        self._shared: Path | None = None
        self._stop = threading.Event()

    def add_collector(self, collect: Callable[[], list[str]]) -> None:
        """Add exposition lines from elsewhere (e.g. the audit sink's counters)."""
        self._collectors.append(collect)

    def share(
        self, directory: str | Path, *, interval_s: float = 1.0, worker: str | None = None
    ) -> None:
        """Publish this process's metrics in ``directory`` (one file per process, rewritten
        every ``interval_s`` by a daemon thread and on every render) and make :meth:`render`
        report the sum over every file there: the server's ``--workers`` together.

        A worker that exits leaves its last file, so counters never go backwards; a gauge
        keeps its last value from such a worker. ``worker`` names this process's file
        (default: its process id).
        """
        self._shared = Path(directory)
        self._own = self._shared / f"worker-{worker or os.getpid()}.prom"
        self.publish()
        thread = threading.Thread(
            target=self._publish_every, args=(interval_s,), name="leakguard-metrics", daemon=True
        )
        thread.start()

    def close(self) -> None:
        """Stop publishing (the last state stays in the shared directory)."""
        if self._shared is not None and not self._stop.is_set():
            self._stop.set()
            self.publish()

    def _publish_every(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.publish()

    def publish(self) -> str:
        """Write this process's exposition to the shared directory (if any); return it."""
        text = self.render_own()
        if self._shared is not None:
            # An unwritable directory must not break the response path: the next
            # round (and this worker's own numbers on its /metrics) still work.
            with contextlib.suppress(OSError):
                write_atomically(self._own, text)
        return text

    def render(self) -> str:
        """The exposition text: this process's metrics, or with :meth:`share` every
        worker's, summed series by series."""
        if self._shared is None:
            return self.render_own()
        own = self.publish()
        texts = [own]
        for path in sorted(self._shared.glob("worker-*.prom")):
            if path != self._own:
                with contextlib.suppress(OSError):  # a worker replacing its file right now
                    texts.append(path.read_text(encoding="utf-8"))
        return merge_expositions(texts)

    def render_own(self) -> str:
        lines: list[str] = []
        for metric in (
            self.responses,
            self.findings,
            self.blocks,
            self.fail_closed,
            self.passed_unscanned,
            self.sink_refusals,
            self.upstream_errors,
            self.scan_seconds,
            self.hold_seconds,
        ):
            lines += metric.render()
        for collect in self._collectors:
            lines += collect()
        return "\n".join(lines) + "\n"


def merge_expositions(texts: Iterable[str]) -> str:
    """Sum Prometheus text expositions series by series (counters, histogram buckets, sums
    and counts, and gauges such as queue depths: totals over the workers). Families keep
    the order in which they first appear, and a series only some workers have joins its
    family's block, so each family stays contiguous as the format requires."""
    families: dict[str, tuple[list[str], dict[str, float]]] = {}
    for text in texts:
        family: tuple[list[str], dict[str, float]] | None = None
        for line in text.splitlines():
            if line.startswith("# "):
                parts = line.split(" ", 3)
                if len(parts) < 3:
                    continue
                family = families.setdefault(parts[2], ([], {}))
                if line not in family[0]:
                    family[0].append(line)
            elif line.strip():
                series, _, value = line.rpartition(" ")
                if family is None:
                    family = families.setdefault(series.split("{", 1)[0], ([], {}))
                try:
                    number = float(value)
                except ValueError:
                    continue
                family[1][series] = family[1].get(series, 0.0) + number
    lines: list[str] = []
    for meta, samples in families.values():
        lines += meta
        lines += [f"{series} {_number(value)}" for series, value in samples.items()]
    return "\n".join(lines) + "\n"


def reason_kind(reason: str | None) -> str:
    """The closed-set part of a reason (``label:US_SSN`` stays, free text never appears)."""
    return (reason or "none")[:64]


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


def metrics_route(metrics: Metrics, *, path: str = "/metrics") -> Any:
    """A ready ``/metrics`` route for apps: a Starlette ``Route`` serving ``metrics`` (pass
    the same object to the middleware, which adds its redaction log's counters).
    Guard-off it with a route rule (``{path: /metrics, guard: false}``): it holds counts
    and labels only, never text."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    return Route(path, page, methods=["GET"])
