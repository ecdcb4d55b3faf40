"""/healthz latency through the real proxy while a pathological body is scanned (issue 20.17).

    nice -n 10 .venv/bin/python bench/bench_pathological.py [--kb 1024] [--timeout 10]

uvicorn serves the proxy in front of leakguard's fake upstream (which answers with the
prompt); one client asks for a chat completion whose answer is ``--kb`` KB of ``1:1:...``
(or ``--shape json``: minified JSON records) with an e-mail address in the middle, NER on
(the shipped default model). Meanwhile another client polls ``/healthz`` every 20 ms.
Prints the decision (HTTP status, redacted or blocked), the time to it against
``scan_timeout_s``, and the /healthz latency p50/p99/max while the scan ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

import httpx

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.proxy import build_app
from leakguard.testing import fake_upstream, serve_in_thread


def body(shape: str, kb: int) -> str:
    half = kb * 512
    if shape == "json":
        records = [
            {"id": i, "name": f"user{i}", "tags": ["a", "b"], "v": i * 1.5}
            for i in range(half // 40)
        ]
        run = json.dumps(records, separators=(",", ":"))[:half]
    else:
        run = ("1:" * (half // 2 + 1))[:half]
    return f"{run} write to jane.doe@example.com {run}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--shape", choices=("colons", "json"), default="colons")
    args = parser.parse_args()
    settings: dict[str, Any] = {"online": {"scan_timeout_s": args.timeout}}
    text = body(args.shape, args.kb)
    guard = Guard(parse_config(settings))
    guard.scan("warm up: Jane Smith, jane@example.com")
    with serve_in_thread(fake_upstream()) as upstream:
        config = parse_config({**settings, "proxy": {"upstream": upstream}})
        with serve_in_thread(build_app(config, guard=guard)) as url:
            httpx.get(url + "/healthz")
            reply: dict[str, Any] = {}

            def ask() -> None:
                question = {"model": "m", "messages": [{"role": "user", "content": text}]}
                started = time.monotonic()
                r = httpx.post(url + "/v1/chat/completions", json=question, timeout=600)
                reply.update(response=r, seconds=time.monotonic() - started)

            asker = threading.Thread(target=ask)
            asker.start()
            latencies: list[float] = []
            with httpx.Client() as health:
                while asker.is_alive():
                    started = time.perf_counter()
                    health.get(url + "/healthz", timeout=600)
                    if asker.is_alive():
                        latencies.append(time.perf_counter() - started)
                    time.sleep(0.02)
            asker.join()
    r = reply["response"]
    leaked = "jane.doe@example.com" in r.text
    redacted = r.status_code == 200 and "<EMAIL_ADDRESS>" in r.text
    print(f"body: {len(text) / 1024:.0f} KB {args.shape}, scan_timeout_s {args.timeout:g}")
    verdict = "redacted" if redacted else "blocked" if r.status_code != 200 else "passed"
    print(
        f"decision: HTTP {r.status_code} ({verdict})"
        f" after {reply['seconds']:.2f} s; address leaked: {leaked}"
    )
    if latencies:
        ms = sorted(x * 1000 for x in latencies)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(
            f"/healthz while scanning: n={len(ms)} p50 {statistics.median(ms):.1f} ms"
            f" p99 {p99:.1f} ms max {ms[-1]:.1f} ms"
        )
    else:
        print("/healthz while scanning: no answer before the decision")


if __name__ == "__main__":
    main()
