"""Issue 21, item 9: with the redaction log's storage failing, no response goes out
unrecorded. Real write failures: the server runs in a child process whose file-size limit
(RLIMIT_FSIZE, set from here with prlimit; SIGXFSZ ignored, so writes fail with EFBIG)
drops to 1 byte, then comes back. Through `leakguard serve` (JSON Lines and SQLite) and the
middleware in an app; every response gets a record, the chain verifies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakguard.audit.chain import AuditKey
from leakguard.audit.sinks import JsonlSink
from leakguard.audit.verify import iter_records, verify
from leakguard.config import parse_config
from leakguard.events import ScanEvent
from leakguard.findings import OutcomeAction
from leakguard.online.recording import wait_written
from leakguard.testing import fake_upstream, serve_in_thread

pytestmark = pytest.mark.skipif(
    not hasattr(resource, "prlimit"), reason="needs Linux prlimit (RLIMIT_FSIZE)"
)

ROOT = Path(__file__).resolve().parents[1]
KEY = "disk-full-test-key-0123456789abcdef"
FULL = 1  # bytes: every file of the log is past it, so each write fails
# The child ignores SIGXFSZ (the default would kill it): over-size writes fail with EFBIG.
IGNORE_XFSZ = "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)"
SERVE = f"{IGNORE_XFSZ}; import sys; from leakguard.cli import main; sys.exit(main())"
# An app of one's own with the middleware in it, opening the configured log itself.
APP = f"""{IGNORE_XFSZ}
import json, logging, sys
import uvicorn
from leakguard.config import parse_config
from leakguard.middleware import LeakGuardMiddleware
from leakguard.testing import fake_upstream
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
config = parse_config(json.loads(sys.argv[1]))
app = LeakGuardMiddleware(fake_upstream(), config=config)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="on")
"""


@dataclass
class Server:
    base: str
    child: subprocess.Popen[str]
    log: Path
    sent: list[str] = field(default_factory=list)  # what each chat request got: pass | block

    def chat(self, text: str = "hello there", *, stream: bool = False) -> httpx.Response:
        body = {"model": "m", "messages": [{"role": "user", "content": text}], "stream": stream}
        reply = httpx.post(f"{self.base}/v1/chat/completions", json=body, timeout=30)
        blocked = reply.status_code != 200 or "leakguard_fail_closed" in reply.text
        self.sent.append("block" if blocked else "pass")
        return reply

    def file_size_limit(self, soft: int) -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(self.child.pid, resource.RLIMIT_FSIZE, (soft, hard))

    def stop(self) -> str:
        self.child.send_signal(signal.SIGINT)
        self.child.wait(60)
        assert self.child.stderr is not None
        return self.child.stderr.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(tmp_path: Path, how: str, sink: str, *, on_failure: str = "block") -> Iterator[Server]:
    """The server in a child process, writing its redaction log under ``tmp_path``."""
    log = tmp_path / ("log" if sink == "jsonl" else "audit.db")
    audit = {"enabled": True, "sink": sink, "path": str(log), "fingerprint_key": KEY}
    config: dict[str, Any] = {
        "pii": {"spacy_model": "none"},
        "online": {"on_failure": on_failure},
        "audit": audit,
    }
    port = _free_port()
    with serve_in_thread(fake_upstream()) as upstream:
        if how == "serve":
            cfg = tmp_path / "leakguard.yaml"
            cfg.write_text(json.dumps(config), encoding="utf-8")
            argv = [SERVE, "serve", "--upstream", upstream, "--config", str(cfg), "--port"]
        else:
            argv = [APP, json.dumps(config)]
        child = subprocess.Popen(
            [sys.executable, "-c", *argv, str(port)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/v1/models", timeout=1)
                    break
                except httpx.TransportError:
                    assert child.poll() is None, "the server exited"
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            yield Server(base, child, log)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(30)
            if child.stderr is not None:
                child.stderr.close()


@pytest.fixture(params=["serve-jsonl", "serve-sqlite", "middleware-jsonl", "middleware-sqlite"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    how, sink = request.param.split("-")
    with running(tmp_path, how, sink) as server:
        yield server


def test_a_response_that_cannot_be_recorded_is_blocked_and_recorded_once_space_returns(
    server: Server,
) -> None:
    assert server.chat().status_code == 200  # the log works
    server.file_size_limit(FULL)  # the log's storage is full from here on
    during = [server.chat() for _ in range(6)]
    streamed = server.chat("one two three four five six", stream=True)
    for reply in during:
        assert reply.status_code == 403
        assert reply.json()["error"]["type"] == "leakguard_fail_closed"
        assert "hello there" not in reply.text
    # A stream's text goes out as it is scanned; its end says it was not recorded.
    assert '"type": "leakguard_fail_closed"' in streamed.text.replace('":"', '": "')

    server.file_size_limit(resource.RLIM_INFINITY)  # space comes back
    deadline = time.monotonic() + 30
    while server.chat().status_code != 200:  # the writer retries with back-off (<= 2 s)
        assert time.monotonic() < deadline, "the log did not recover"
        time.sleep(0.2)
    after = [server.chat() for _ in range(3)]
    assert [r.status_code for r in after] == [200, 200, 200]
    assert "hello there" in after[0].text
    err = server.stop()

    assert "write failed (OSError)" in err or "write failed (OperationalError)" in err
    assert "blocked: its record could not be written (audit_write_failed)" in err
    assert "writes again" in err
    report = verify([server.log], key=AuditKey(KEY.encode()))
    assert not report.problems
    records = iter_records([server.log])
    events = [r for r in records if r.get("route") == "/v1/chat/completions"]
    # No record lost: one per response, in order, each saying what the client got.
    assert len(events) == len(server.sent)
    assert [r["action"] for r in events] == server.sent
    for record, got in zip(events, server.sent, strict=True):
        if got == "block":
            assert record["reason"] == "audit_write_failed"
            assert record["decided"] == {"action": "pass", "reason": None}


def test_with_on_failure_pass_responses_go_on_and_their_records_say_they_came_late(
    tmp_path: Path,
) -> None:
    with running(tmp_path, "middleware", "jsonl", on_failure="pass") as server:
        assert server.chat().status_code == 200
        deadline = time.monotonic() + 30
        while not _chat_records(server.log):  # on_failure pass: the response did not wait
            assert time.monotonic() < deadline, "the first record was not written"
            time.sleep(0.1)
        server.file_size_limit(FULL)
        during = [server.chat() for _ in range(3)]
        assert [r.status_code for r in during] == [200, 200, 200]
        assert all("hello there" in r.text for r in during)
        server.file_size_limit(resource.RLIM_INFINITY)
        deadline = time.monotonic() + 30
        while len(_late(server.log)) < 3:  # the kept records are written once space is back
            assert time.monotonic() < deadline, "the kept records were not written"
            time.sleep(0.2)
        server.stop()
    assert not verify([server.log], key=AuditKey(KEY.encode())).problems
    events = [r for r in iter_records([server.log]) if r.get("route") == "/v1/chat/completions"]
    assert [r["action"] for r in events] == ["pass"] * 4
    assert [bool(r.get("recorded_late")) for r in events] == [False, True, True, True]


def _chat_records(log: Path) -> list[dict[str, Any]]:
    with contextlib.suppress(ValueError, FileNotFoundError):  # a line being written
        return [r for r in iter_records([log]) if r.get("route") == "/v1/chat/completions"]
    return []


def _late(log: Path) -> list[dict[str, Any]]:
    with contextlib.suppress(ValueError):  # a line being written
        return [r for r in iter_records([log]) if r.get("recorded_late")]
    return []


class _HeldSink(JsonlSink):
    """Its writer waits at a gate before each event record (a backlog, a slow disk)."""

    gate: threading.Event

    def _write(self, record: dict[str, Any], line: str) -> None:
        if record["kind"] == "event":
            self.gate.wait(30)
        super()._write(record, line)


def test_a_record_still_queued_when_the_wait_ends_is_written_saying_the_response_was_blocked(
    tmp_path: Path,
) -> None:
    """The time-out side of the receipt: the response gives up on a record the writer has
    not reached, blocks, and the record (written later) says so; one the writer holds is
    waited for."""
    cfg = parse_config({"audit": {"path": str(tmp_path / "log"), "fingerprint_key": KEY}})
    _HeldSink.gate = threading.Event()
    sink = _HeldSink(cfg.audit, key=AuditKey(KEY.encode()), guard_config=cfg)
    first = sink.emit_tracked(_event("first"), on_failure="block")  # the writer holds it
    second = sink.emit_tracked(_event("second"), on_failure="block")  # queued behind it
    deadline = time.monotonic() + 10
    while first.state != "writing":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert asyncio.run(wait_written(second, 0.05)) is False
    assert first.give_up() is None  # being written: its outcome decides
    sink.gate.set()
    assert asyncio.run(wait_written(first, 5.0)) is True
    sink.close()
    events = [r for r in iter_records([tmp_path / "log"]) if r["kind"] == "event"]
    assert [(r["request_id"], r["action"], r["reason"]) for r in events] == [
        ("first", "pass", None),
        ("second", "block", "audit_write_failed"),
    ]
    assert events[1]["decided"] == {"action": "pass", "reason": None}
    assert not verify([tmp_path / "log"], key=AuditKey(KEY.encode())).problems


def _event(request_id: str) -> ScanEvent:
    return ScanEvent("middleware", request_id, OutcomeAction.PASS, (), "v1")
