"""`leakguard demo` and `leakguard serve` as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from leakguard.cli import EXIT_ERROR, main
from leakguard.demo import run_demo
from leakguard.online.metrics import Metrics
from leakguard.testing import fake_upstream, serve_in_thread

PLANTED = (
    "Margaret",
    "margaret.thompson",
    "555 0134",
    "4111 1111",
    "GB82",
    "shadowing the tide crew",
)


def test_demo_shows_every_planted_value_removed_by_the_guard() -> None:
    exchanges = run_demo(ner=False)
    assert [e.api for e in exchanges] == [
        "chat.completions (stream)",
        "chat.completions",
        "responses (stream)",
    ]
    said = " ".join(e.said for e in exchanges)
    received = " ".join(e.received for e in exchanges)
    for value in PLANTED[1:]:  # without NER the person name stays; it is checked below
        assert value in said
        assert value not in received
    assert "<EMAIL_ADDRESS>" in received
    assert "<MEMORIZED>" in received
    assert (
        exchanges[2].received
        == "Here is what the handbook says: <MEMORIZED>. Enjoy your first week!"
    )


@pytest.mark.heavy
def test_demo_command_prints_both_columns_and_exits_by_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "the model said" in out
    assert "the client received" in out
    assert "3 of 3 answers were changed" in out
    received = "\n".join(line.split(" | ", 1)[1] for line in out.splitlines() if " | " in line)
    for value in PLANTED:
        assert value not in received


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                kids.append(int(entry.name))
    return kids


@pytest.mark.parametrize(("workers", "pin"), [(1, False), (2, False), (1, True), (2, True)])
def test_serve_command_proxies_a_model_server(tmp_path: Path, workers: int, pin: bool) -> None:
    config = tmp_path / "lg.yaml"
    config.write_text("pii:\n  spacy_model: none\n", encoding="utf-8")
    port = _free_port()
    with serve_in_thread(fake_upstream()) as upstream:
        cmd = [
            sys.executable,
            "-m",
            "leakguard.cli",
            "serve",
            "--upstream",
            upstream,
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            str(workers),
            *(["--pin-cpus"] if pin else []),
        ]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180  # generous: a loaded machine
            while True:
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
            body = {"model": "m", "messages": [{"role": "user", "content": "mail a@corp.io"}]}
            sent = 24
            with ThreadPoolExecutor(8) as pool:  # a new connection each: any worker may answer
                answers = list(
                    pool.map(
                        lambda _: httpx.post(base + "/v1/chat/completions", json=body),
                        range(sent),
                    )
                )
            for r in answers:
                assert r.json()["choices"][0]["message"]["content"] == "mail <EMAIL_ADDRESS>"
            # /metrics counts every worker's responses (published at least once a second).
            series = 'leakguard_responses_total{kind="json",action="redact"}'
            deadline = time.monotonic() + 15
            while (count := _metric(httpx.get(base + "/metrics").text, series)) < sent:
                assert time.monotonic() < deadline, f"{series} = {count}, expected {sent}"
                time.sleep(0.2)
            assert count == sent
            if pin and hasattr(os, "sched_getaffinity"):
                # Each worker (every thread of it) runs on one CPU, the next one in turn.
                cpus = sorted(os.sched_getaffinity(0))
                pinned = []
                for kid in _children(proc.pid) if workers > 1 else [proc.pid]:
                    masks = {
                        frozenset(os.sched_getaffinity(int(t.name)))
                        for t in Path(f"/proc/{kid}/task").iterdir()
                    }
                    if all(len(m) == 1 for m in masks):
                        assert len(masks) == 1
                        pinned.append(next(iter(masks.pop())))
                assert sorted(pinned) == sorted(cpus[i % len(cpus)] for i in range(workers))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()


def _metric(page: str, series: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line.startswith(series)
    ]
    return sum(values)


def test_workers_sharing_a_directory_report_their_sum(tmp_path: Path) -> None:
    one, two = Metrics(), Metrics()
    one.share(tmp_path, worker="1")
    two.share(tmp_path, worker="2")
    try:
        one.responses.inc("json", "redact")
        two.responses.inc("json", "redact", amount=2)
        two.responses.inc("sse", "block")
        one.scan_seconds.observe(0.003)
        two.scan_seconds.observe(0.2)
        assert _metric(one.render(), "leakguard_responses_total") == 1  # two: not yet published
        two.publish()  # what its thread does every second
        for page in (one.render(), two.render()):
            assert _metric(page, 'leakguard_responses_total{kind="json",action="redact"}') == 3
            assert _metric(page, 'leakguard_responses_total{kind="sse",action="block"}') == 1
            assert _metric(page, "leakguard_scan_seconds_count") == 2
            assert _metric(page, 'leakguard_scan_seconds_bucket{le="0.005"}') == 1
            assert _metric(page, 'leakguard_scan_seconds_bucket{le="+Inf"}') == 2
            # One HELP/TYPE pair per family, its samples right after it.
            assert page.count("# TYPE leakguard_responses_total counter") == 1
        assert one.render_own().count("leakguard_responses_total{") == 1
    finally:
        one.close()
        two.close()


def test_serve_without_an_upstream_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == EXIT_ERROR
    assert "the proxy needs an upstream: pass --upstream URL" in capsys.readouterr().err


def test_serve_rejects_an_upstream_that_is_not_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--upstream", "ftp://x"]) == EXIT_ERROR
    assert "proxy.upstream" in capsys.readouterr().err
