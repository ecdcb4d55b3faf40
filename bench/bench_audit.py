"""What the redaction log costs a guarded response, side by side with the scan itself.

    nice .venv/bin/python bench/bench_audit.py [--records 2000]

For each sink setting, in one run over the same events (real Guard.scan outcomes on
~1,000-character assistant answers with planted PII):

* ``emit`` — the caller's cost per response (record building with HMAC fingerprints, then a
  queue put): what the event loop pays. Compared with the anchors ``Guard.scan`` (the work
  the response needs anyway) and a naive synchronous write (json.dumps + write + flush, or
  + fsync, in the caller: what a logging handler would do).
* ``throughput`` — records per second the background writer sustains from the first emit
  to a completed ``close()`` (everything written, sealed and synced).

Reports medians and ratios; absolute numbers on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from texts import assistant_text

from leakguard.audit.chain import AuditKey, canonical
from leakguard.audit.records import record_from_event
from leakguard.audit.sinks import open_sink
from leakguard.config import parse_config
from leakguard.events import ScanEvent, evidence_for
from leakguard.guard import Guard

KEY = "bench-audit-key-0123456789abcdef"
SETTINGS = {
    "jsonl flush/record": {"sink": "jsonl"},
    "jsonl fsync/record": {"sink": "jsonl", "durability": "fsync"},
    "jsonl flush/1s": {"sink": "jsonl", "sync_every": "interval"},
    "sqlite flush/record": {"sink": "sqlite"},
    "sqlite fsync/record": {"sink": "sqlite", "durability": "fsync"},
    "sqlite flush/1s": {"sink": "sqlite", "sync_every": "interval"},
}


def micros(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--texts", type=int, default=40)
    args = parser.parse_args()

    guard = Guard(parse_config({}))
    texts = [assistant_text(1000, seed=s) for s in range(args.texts)]
    guard.scan(texts[0])
    scan_us, events = [], []
    for text in texts:
        outcome = guard.scan(text)
        scan_us.append(micros(lambda text=text: guard.scan(text)))
        events.append(
            ScanEvent(
                "bench", "r", outcome.action, evidence_for(text, outcome.findings),
                guard.policy_version, route="/v1/chat/completions", model="m", text_chars=len(text),
            )
        )  # fmt: skip
    findings = statistics.mean(len(e.evidence) for e in events)
    scan = statistics.median(scan_us)
    print(f"{len(texts)} texts of ~1,000 chars, {findings:.1f} findings each on average")
    print(f"anchor Guard.scan: median {scan:,.0f} us per response\n")

    key = AuditKey(KEY.encode())
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'caller-side cost per response':<34}{'median us':>10}{'vs scan':>9}")
        for fsync in (False, True):
            path = Path(tmp) / f"naive-{fsync}.jsonl"
            with path.open("a", encoding="utf-8") as fh:

                def naive(event: ScanEvent, fh=fh, fsync=fsync) -> None:  # type: ignore[no-untyped-def]
                    fh.write(canonical(record_from_event(event, key=key)) + "\n")
                    fh.flush()
                    if fsync:
                        os.fsync(fh.fileno())

                costs = [micros(lambda e=e: naive(e)) for e in events * 10]
            label = f"naive sync write{' + fsync' if fsync else ''}"
            med = statistics.median(costs)
            print(f"{label:<34}{med:>10,.0f}{med / scan:>9.3f}")

        results = []
        for name, audit in SETTINGS.items():
            target = Path(tmp) / name.replace("/", "-").replace(" ", "-")
            if audit["sink"] == "sqlite":
                target = target.with_suffix(".db")
            config = parse_config({"audit": {"path": str(target), "fingerprint_key": KEY, **audit}})
            sink = open_sink(config, key=key)
            costs = []
            start = time.perf_counter()
            for i in range(args.records):
                costs.append(micros(lambda i=i, s=sink: s.emit(events[i % len(events)])))
            sink.close()
            elapsed = time.perf_counter() - start
            stats = sink.stats()
            assert stats.written + stats.refused == args.records, stats
            results.append((name, statistics.median(costs), args.records / elapsed, stats.refused))
        for name, med, _, refused in results:
            note = f"  ({refused} refused: queue full)" if refused else ""
            print(f"{'emit, ' + name:<34}{med:>10,.0f}{med / scan:>9.3f}{note}")
        print(f"\n{'writer throughput':<34}{'records/s':>10}")
        for name, _, rate, _ in results:
            print(f"{name:<34}{rate:>10,.0f}")
    print(json.dumps({"scan_us": scan, "emit_us": {n: m for n, m, _, _ in results}}))


if __name__ == "__main__":
    main()
