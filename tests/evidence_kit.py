"""Builds the artifacts the evidence tests read, the way users produce them: a redaction
log written by ``leakguard serve`` (two workers, two configs one after the other, segments
rotated) under concurrent load through the openai SDK and httpx, a sanitize run, and a DP
run with ``--index-out`` on the sanitized data (tiny built-in model, three steps)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai

from leakguard.testing import fake_upstream, serve_in_thread

KEY = "evidence-audit-key-0123456789abcdef"
# Values planted in the prompts (the fake model says them back): none may reach the package.
CANARIES = [f"canary.{i}.q7x@leakmail.io" for i in range(12)] + [
    f"+1 415 555 {7100 + i:04d}" for i in range(6)
]
PII = {"spacy_model": "none", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]}
CORPUS = [
    f"Ticket {i}: the printer on floor {i % 5} jams; mail helpdesk{i}@corp.io or call "
    f"415 555 {1000 + i:04d} for the technician."
    for i in range(24)
]
OTHER_CORPUS = [f"Release note {i}: the parser now accepts trailing commas." for i in range(24)]


@dataclass(frozen=True, slots=True)
class Journey:
    root: Path
    log: Path
    configs: tuple[Path, Path]
    dp_config: Path
    sanitize_run: Path
    dp_run: Path
    index: Path
    day: str
    sent: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "leakguard.cli", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def write_corpus(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def sanitize(root: Path, corpus: Path, name: str) -> Path:
    cfg = root / f"{name}-sanitize.yaml"
    cfg.write_text(json.dumps({"pii": PII, "sanitize": {"pseudonym_key": "evidence-pseudo"}}))
    out = root / name
    cli("sanitize", str(corpus), "--out", str(out), "--config", str(cfg), "--no-progress")
    return out


def sanitized_file(run: Path) -> Path:
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    return run / str(manifest["shards"][0]["output"])


def _load(base: str, behaviours: list[str], offset: int) -> int:
    """Concurrent requests, new connections (any worker answers), streamed and not."""
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0)

    def one(i: int) -> None:
        n = offset + i
        prompt = f"Contact {CANARIES[n % len(CANARIES)]} about order {n}."
        if n % 3 == 0:
            prompt = f"The weather on day {n} is mild and dry."
        behaviour = behaviours[i % len(behaviours)]
        if behaviour:
            httpx.post(
                f"{base}/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": prompt}]},
                headers={"x-fake-behaviour": behaviour},
                timeout=30,
            )
            return
        messages: Any = [{"role": "user", "content": prompt}]
        try:
            if n % 2:
                stream = client.chat.completions.create(model="m", messages=messages, stream=True)
                "".join(c.choices[0].delta.content or "" for c in stream)
            else:
                client.chat.completions.create(model="m", messages=messages)
        except openai.APIError:  # blocked by the policy (phone numbers, second config)
            pass

    count = len(behaviours) * 6
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    return count


def serve_phase(config: Path, log: Path, upstream: str, behaviours: list[str], offset: int) -> int:
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [
        sys.executable, "-m", "leakguard.cli", "serve", "--upstream", upstream,
        "--config", str(config), "--port", str(port), "--workers", "2",
        "--audit-log", str(log),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "leakguard serve did not start"
            time.sleep(0.1)
        time.sleep(1.0)  # both workers up (each opens its own stream)
        return _load(base, behaviours, offset)
    finally:
        proc.send_signal(signal.SIGTERM)  # uvicorn shuts down: each worker seals its stream
        proc.wait(timeout=60)
        if proc.stderr:
            proc.stderr.close()


def build_journey(root: Path) -> Journey:
    corpus = write_corpus(root / "corpus.jsonl", CORPUS)
    run = sanitize(root, corpus, "sanitized")
    data = sanitized_file(run)
    job = root / "job.yaml"
    job.write_text(
        f"data: {{path: {data}, max_length: 32}}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp}\n"
        "training: {steps: 3, batch_size: 4, engine: hooks}\n",
        encoding="utf-8",
    )
    index = root / "model.lgx"
    dp = root / "dp"
    cli("dp", "train", str(job), "--out", str(dp), "--quiet", "--index-out", str(index))
    base = {
        "pii": PII,
        "memorization": {"index": str(index)},
        "audit": {"fingerprint_key": KEY, "rotate_bytes": 4096, "record": "all"},
    }
    first, second = root / "guard-v1.yaml", root / "guard-v2.yaml"
    first.write_text(json.dumps(base), encoding="utf-8")
    second.write_text(
        json.dumps(base | {"policy": {"actions": {"PHONE_NUMBER": "block"}}}), encoding="utf-8"
    )
    log = root / "log"
    sent = 0
    with serve_in_thread(fake_upstream()) as upstream:
        sent += serve_phase(first, log, upstream, ["", "", "", "invalid-utf8"], 0)
        sent += serve_phase(second, log, upstream, ["", "", "malformed"], sent)
    day = datetime.now(UTC).date().isoformat()
    return Journey(root, log, (first, second), job, run, dp, index, day, sent)


def raw_records(log: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for file in sorted(log.glob("*.jsonl"))
        for line in file.read_text(encoding="utf-8").splitlines()
    ]


def evidence_args(j: Journey, out: Path, *extra: str) -> list[str]:
    return [
        "evidence", "--from", j.day, "--to", j.day, "--out", str(out),
        "--audit-log", str(j.log), "--sanitize-run", str(j.sanitize_run),
        "--dp-run", str(j.dp_run), "--index", str(j.index),
        "--config", str(j.configs[0]), "--config", str(j.configs[1]),
        "--config", str(j.dp_config), *extra,
    ]  # fmt: skip


def synthetic_log(
    log: Path, *, records: int, days: int, streams: int = 1, start: str = "2026-09-01"
) -> None:
    """A redaction log written by the real sink code (records built by
    :func:`record_from_event`, chained and rotated by :class:`JsonlSink`), with timestamps
    spread evenly over ``days`` days from ``start``: one stream per consecutive slice."""
    from datetime import timedelta

    from leakguard.audit.chain import AuditKey
    from leakguard.audit.records import record_from_event
    from leakguard.audit.sinks import open_sink
    from leakguard.config import parse_config
    from leakguard.events import FindingEvidence, ScanEvent
    from leakguard.findings import Action, Finding, OutcomeAction

    config = parse_config(
        {"pii": PII, "audit": {"enabled": True, "path": str(log), "fingerprint_key": KEY}}
    )
    key = AuditKey(KEY.encode())
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    step = timedelta(days=days) / max(1, records)
    email = Finding("pii", "EMAIL_ADDRESS", 8, 30, 0.95, action=Action.REDACT)
    per_stream = -(-records // streams)
    for s in range(streams):
        sink = open_sink(config, key=key)
        try:
            for i in range(s * per_stream, min(records, (s + 1) * per_stream)):
                found = i % 3 == 0
                event = ScanEvent(
                    source="middleware",
                    request_id=f"r{i}",
                    action=OutcomeAction.REDACT if found else OutcomeAction.PASS,
                    evidence=(FindingEvidence(email, f"user{i}@corp.io"),) if found else (),
                    policy_version="synthetic",
                    route="/v1/chat/completions",
                    text_chars=120,
                )
                record = record_from_event(event, key=key, config=config)
                record["ts"] = (begin + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                while not sink.submit(record):
                    sink.flush()
        finally:
            sink.close()
