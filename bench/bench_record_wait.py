"""What waiting for each response's record costs (issue 21, item 9).

Side by side in one process, through the real middleware (httpx.ASGITransport, the fake
model server, PII on with patterns only): the sink as the online guard uses it (each
response waits for its receipt: written and synced) against the same sink behind a plain
``emit`` (no waiting, the behaviour before). Rounds alternate; medians per response.

    python bench/bench_record_wait.py jsonl|sqlite [--requests 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import httpx

from leakguard.audit.sinks import AuditSink, open_sink
from leakguard.config import parse_config
from leakguard.events import ScanEvent
from leakguard.middleware import LeakGuardMiddleware
from leakguard.testing import fake_upstream


class EmitOnly:
    """The sink without ``emit_tracked``: the middleware trusts ``emit``'s answer."""

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    def emit(self, event: ScanEvent) -> bool:
        return self.sink.emit(event)

    def close(self) -> None:
        self.sink.close()


async def per_response_us(app: LeakGuardMiddleware, n: int, concurrency: int) -> float:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello there, how are you"}]}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                reply = await client.post("/v1/chat/completions", json=body)
                assert reply.status_code == 200, reply.text

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sink", choices=["jsonl", "sqlite"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for concurrency in (1, 16):
        times: dict[str, list[float]] = {"waits": [], "emit-only": []}
        for _ in range(args.rounds):
            for name, runs in times.items():
                folder = tempfile.mkdtemp(prefix="leakguard-bench-")
                path = folder + ("/log" if args.sink == "jsonl" else "/audit.db")
                audit = {"sink": args.sink, "path": path, "fingerprint_key": "k" * 32}
                pii = {"spacy_model": "none", "entities": ["EMAIL_ADDRESS"]}
                config = parse_config({"pii": pii, "audit": audit})
                sink = open_sink(config)
                used = sink if name == "waits" else EmitOnly(sink)
                app = LeakGuardMiddleware(fake_upstream(), config=config, sink=used)
                runs.append(asyncio.run(per_response_us(app, args.requests, concurrency)))
                sink.close()
        waits, plain = (statistics.median(times[k]) for k in times)
        print(
            f"{args.sink} concurrency {concurrency}: waits {waits:.0f} us, emit-only "
            f"{plain:.0f} us per response (medians of {args.rounds}); ratio {waits / plain:.2f}"
        )


if __name__ == "__main__":
    main()
