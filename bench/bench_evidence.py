"""How long ``leakguard evidence`` takes over a large redaction log (target: a 1M-record log
over 90 days in under 2 minutes).

The log is written by the real sink code (records from ``record_from_event``, chained and
rotated by ``JsonlSink``), one stream per ~10 days, a third of the records with a finding.
Writing it is not timed. Usage::

    nice -n 10 python bench/bench_evidence.py --records 1000000 --days 90
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / "tests")]

from evidence_kit import KEY, synthetic_log  # noqa: E402

from leakguard.audit.chain import AuditKey  # noqa: E402
from leakguard.audit.evidence import EvidenceInputs, build_evidence, parse_period  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log"
        t0 = time.perf_counter()
        synthetic_log(log, records=args.records, days=args.days, streams=max(1, args.days // 10))
        wrote = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in log.glob("*.jsonl"))
        t0 = time.perf_counter()
        result = build_evidence(
            EvidenceInputs(audit_logs=(log,)),
            period=parse_period("2026-09-01", "2026-12-31"),
            out=Path(tmp) / "package",
            key=AuditKey(KEY.encode()),
        )
        built = time.perf_counter() - t0
    op = result.evidence["operation"]
    print(
        f"{args.records:,} records over {args.days} days ({size / 1e6:.0f} MB, "
        f"{op['streams']} streams, {op['segments']} segments): written in {wrote:.1f} s; "
        f"package built in {built:.1f} s ({built / args.records * 1e6:.1f} µs/record); "
        f"guarded {op['guarded']:,}, flags {len(result.flags)}"
    )


if __name__ == "__main__":
    main()
