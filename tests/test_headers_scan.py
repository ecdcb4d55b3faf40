"""Issue 20 items 8 and 10: response headers and trailers, and bodies of several gzip
members or with trailing bytes. Through the real proxy (uvicorn on 127.0.0.1, a raw-byte
upstream, a raw-socket client) and through the middleware with raw ASGI messages."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import socketserver
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import brotli
import pytest
from asgi_kit import JSON, SSE, chat_body, chat_stream, chat_text, drive, fixed_app, http_scope
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.audit.sinks import open_sink
from leakguard.audit.verify import iter_records
from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.headers import HOP_BY_HOP, STRUCTURAL, is_structural
from leakguard.proxy import build_app
from leakguard.testing import serve_in_thread

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
SSN = "536-90-4399"
PHONE = "212-555-0187"
KEY = "k" * 32
CLEAN_JSON = json.dumps(chat_body("All is well.")).encode()


class RawUpstream:
    """A socket server that reads one request and answers with the exact bytes set."""

    def __init__(self) -> None:
        self.answer = b""
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.rfile.readline()
                length = 0
                while (header := self.rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                self.rfile.read(length)
                self.wfile.write(outer.answer)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(
        self, status: str, head: list[str], body: bytes = b"", *, sized: bool = True
    ) -> None:
        """Answer with ``status``, the header lines ``head`` and ``body`` (with its
        length unless ``sized`` is false), then close."""
        lines = [f"HTTP/1.1 {status}", *head]
        if sized:
            lines.append(f"content-length: {len(body)}")
        lines.append("connection: close")
        self.answer = ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    raw = RawUpstream()
    yield raw
    raw.server.shutdown()
    raw.server.server_close()


def exchange(url: str, *, method: str = "POST", path: str = "/v1/chat/completions") -> bytes:
    """One request over a raw socket; every byte of the response."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        head = f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        sock.sendall(f"{head}content-length: 2\r\nconnection: close\r\n\r\n{{}}".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def parse(raw: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    """Status, headers (lower-case names, every value) and the (unchunked) body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.lower(), []).append(value.strip())
    if headers.get("transfer-encoding") == ["chunked"]:
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    return int(lines[0].split(" ")[1]), headers, body


def proxy_for(
    make_guard: Callable[..., Guard],
    upstream: str,
    base: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    base = PATTERNS if base is None else base
    data = {**base, "proxy": {"upstream": upstream}, **extra}
    return serve_in_thread(build_app(parse_config(data), guard=make_guard(data)))


# -- headers through the proxy ---------------------------------------------------------------


def test_an_unknown_header_with_an_email_is_redacted(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    upstream.respond(
        "200 OK", ["content-type: application/json", f"x-user-email: {EMAIL}"], CLEAN_JSON
    )
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, body = parse(raw)
    assert status == 200
    assert headers["x-user-email"] == ["<EMAIL_ADDRESS>"]
    assert json.loads(body)["choices"][0]["message"]["content"] == "All is well."
    assert EMAIL.encode() not in raw


def test_headers_of_a_stream_are_scanned_before_its_first_byte(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    body = chat_stream(["Hello", " there."])
    upstream.respond("200 OK", ["content-type: text/event-stream", f"x-card: {CARD}"], body)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, out = parse(raw)
    assert status == 200
    assert headers["x-card"] == ["<CREDIT_CARD>"]
    assert chat_text(out) == "Hello there."
    assert CARD.encode() not in raw


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_headers_of_bodiless_answers_are_scanned(
    upstream: RawUpstream, make_guard: Callable[..., Guard], status: str
) -> None:
    upstream.respond(status, [f"x-note: call {PHONE}", f"x-owner: {EMAIL}"], sized=False)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url, method="GET", path="/v1/files/1")
    code, headers, _ = parse(raw)
    assert code == int(status.split(maxsplit=1)[0])
    assert headers["x-note"] == ["call <PHONE_NUMBER>"]
    assert headers["x-owner"] == ["<EMAIL_ADDRESS>"]
    assert PHONE.encode() not in raw
    assert EMAIL.encode() not in raw


def test_headers_of_a_head_answer_are_scanned(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    upstream.respond("200 OK", ["content-type: application/json", f"x-owner: {EMAIL}"], sized=False)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url, method="HEAD", path="/v1/models")
    _, headers, _ = parse(raw)
    assert headers["x-owner"] == ["<EMAIL_ADDRESS>"]
    assert EMAIL.encode() not in raw


def test_interim_answers_and_their_headers_never_reach_the_client(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """A 103 Early Hints with a value in its Link header, then the answer."""
    hints = f"HTTP/1.1 103 Early Hints\r\nlink: </u/{EMAIL}>; rel=preload\r\n\r\n".encode()
    upstream.respond("200 OK", ["content-type: application/json"], CLEAN_JSON)
    upstream.answer = hints + upstream.answer
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, _ = parse(raw)
    assert status == 200
    assert "link" not in headers
    assert EMAIL.encode() not in raw


def test_headers_named_in_connection_and_hop_by_hop_ones_are_dropped(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """RFC 9110 §7.6.1: the upstream's Connection field makes x-secret connection-specific."""
    head = ["content-type: application/json", "connection: x-secret, x-hop", f"x-secret: {EMAIL}"]
    head += ["x-hop: 1", "keep-alive: timeout=5", "proxy-connection: keep-alive", "x-kept: fine"]
    upstream.respond("200 OK", head, CLEAN_JSON)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    _, headers, _ = parse(raw)
    assert {"x-secret", "x-hop", "keep-alive", "proxy-connection"}.isdisjoint(headers)
    assert headers["x-kept"] == ["fine"]
    assert EMAIL.encode() not in raw


def test_chunked_trailers_are_dropped_not_promoted_to_headers(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    chunked = b"%x\r\n%b\r\n0\r\nx-trailer-owner: %b\r\n\r\n" % (
        len(CLEAN_JSON),
        CLEAN_JSON,
        EMAIL.encode(),
    )
    head = [
        "content-type: application/json",
        "transfer-encoding: chunked",
        "trailer: x-trailer-owner",
    ]
    upstream.respond("200 OK", head, chunked, sized=False)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, body = parse(raw)
    assert status == 200
    assert "x-trailer-owner" not in headers
    assert "trailer" not in headers
    assert json.loads(body)["choices"][0]["message"]["content"] == "All is well."
    assert EMAIL.encode() not in raw


def test_a_header_with_a_blocked_label_blocks_the_response(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    base = {**PATTERNS, "policy": {"actions": {"US_SSN": "block"}}}
    upstream.respond("200 OK", ["content-type: application/json", f"x-ssn: {SSN}"], CLEAN_JSON)
    with proxy_for(make_guard, upstream.url, base) as url:
        raw = exchange(url)
    status, headers, body = parse(raw)
    assert status == 403
    assert "x-ssn" not in headers
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("leakguard_blocked", "action:US_SSN")
    assert SSN.encode() not in raw


def test_header_findings_drop_removes_the_header(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    head = ["content-type: application/json", f"set-cookie: owner={EMAIL}; Path=/", "x-kept: fine"]
    upstream.respond("200 OK", head, CLEAN_JSON)
    with proxy_for(make_guard, upstream.url, online={"header_findings": "drop"}) as url:
        raw = exchange(url)
    _, headers, _ = parse(raw)
    assert "set-cookie" not in headers
    assert headers["x-kept"] == ["fine"]


def test_a_transfer_coding_is_decoded_and_scanned_like_a_content_coding(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """``Transfer-Encoding: gzip, chunked``: the transport undoes the chunking only."""
    packed = gzip.compress(json.dumps(chat_body(f"Write to {EMAIL}.")).encode())
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(packed), packed)
    head = ["content-type: application/json", "transfer-encoding: gzip, chunked"]
    upstream.respond("200 OK", head, chunked, sized=False)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, body = parse(raw)
    assert status == 200
    assert "content-encoding" not in headers
    assert json.loads(body)["choices"][0]["message"]["content"] == "Write to <EMAIL_ADDRESS>."


def test_the_redaction_log_names_the_header_and_label_never_the_value(
    upstream: RawUpstream, tmp_path: Path
) -> None:
    config = parse_config(
        {
            **PATTERNS,
            "proxy": {"upstream": upstream.url},
            "audit": {"enabled": True, "path": str(tmp_path), "fingerprint_key": KEY},
        }
    )
    head = ["content-type: application/json", f"x-user-email: {EMAIL}"]
    upstream.respond("200 OK", head, json.dumps(chat_body(f"And {CARD}.")).encode())
    sink = open_sink(config)
    with serve_in_thread(build_app(config, guard=Guard(config), sink=sink)) as url:
        raw = exchange(url)
    sink.close()
    assert EMAIL.encode() not in raw
    assert CARD.encode() not in raw
    (record,) = [r for r in iter_records([tmp_path]) if r.get("kind") == "event"]
    found = sorted((f["label"], f.get("header")) for f in record["findings"])
    assert found == [("CREDIT_CARD", None), ("EMAIL_ADDRESS", "x-user-email")]
    (header,) = [f for f in record["findings"] if f.get("header")]
    assert header["context"] == "x-user-email: <EMAIL_ADDRESS>"
    assert EMAIL not in json.dumps(record)
    assert CARD not in json.dumps(record)


def test_a_normal_openai_answer_keeps_its_structural_headers_unscanned(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """The allow-listed headers of an OpenAI answer go on as they are, without a scan:
    the record's scanned characters are the answer's text alone."""
    openai = [
        "content-type: application/json",
        "openai-processing-ms: 523",
        "openai-version: 2020-10-01",
        "x-ratelimit-limit-requests: 10000",
        "x-ratelimit-remaining-tokens: 1999867",
        "x-ratelimit-reset-requests: 6ms",
        "x-ratelimit-reset-tokens: 3m59.4s",
        "strict-transport-security: max-age=31536000; includeSubDomains; preload",
        "cf-cache-status: DYNAMIC",
        "cf-ray: 8f3a2b1c4d5e6f70-SJC",
        "x-content-type-options: nosniff",
        "access-control-expose-headers: X-Request-ID",
        'etag: W/"5e0b2ac1c3d1f4e2"',
        "cache-control: no-cache, must-revalidate",
    ]
    upstream.respond("200 OK", openai, CLEAN_JSON)
    events: list[Any] = []

    class Sink:
        def emit(self, event: Any) -> bool:
            events.append(event)
            return True

        def close(self) -> None:
            pass

    config = parse_config({**PATTERNS, "proxy": {"upstream": upstream.url}})
    app = build_app(config, guard=make_guard(PATTERNS), sink=Sink())
    with serve_in_thread(app) as url:
        raw = exchange(url)
    _, headers, _ = parse(raw)
    for line in openai[1:]:
        name, _, value = line.partition(": ")
        assert headers[name] == [value], name
    (event,) = events
    assert event.text_chars == len("All is well.")


# -- headers through the middleware ------------------------------------------------------------


def run_app(app: Any, config: dict[str, Any] | None = None, **kw: Any) -> Any:
    mw = LeakGuardMiddleware(app, config=parse_config(config or PATTERNS))
    return anyio.run(lambda: drive(mw, **kw))


def test_the_middleware_scans_an_apps_start_message_headers() -> None:
    headers = [*JSON, (b"X-User-Email", EMAIL.encode()), (b"X-Request-Note", f"ssn {SSN}".encode())]
    rec = run_app(fixed_app([CLEAN_JSON], headers))
    assert rec.header("x-user-email") == "<EMAIL_ADDRESS>"
    assert rec.header("x-request-note") == "ssn <US_SSN>"
    assert json.loads(rec.body)["choices"][0]["message"]["content"] == "All is well."


def test_the_middleware_scans_headers_of_a_204() -> None:
    rec = run_app(
        fixed_app([], [(b"x-owner", EMAIL.encode())], status=204), scope=http_scope(method="DELETE")
    )
    assert rec.status == 204
    assert rec.header("x-owner") == "<EMAIL_ADDRESS>"


def test_a_header_name_with_a_finding_drops_the_header() -> None:
    rec = run_app(fixed_app([CLEAN_JSON], [*JSON, (f"x-{SSN}".encode(), b"1")]))
    assert rec.status == 200
    assert [k for k, _ in rec.start["headers"] if k.startswith(b"x-")] == [b"x-request-id"]


def test_the_middleware_drops_connection_specific_headers_but_keeps_close() -> None:
    headers = [*JSON, (b"connection", b"close, x-private"), (b"x-private", EMAIL.encode())]
    headers += [(b"transfer-encoding", b"chunked"), (b"upgrade", b"h2c")]
    rec = run_app(fixed_app([CLEAN_JSON], headers))
    names = [k for k, _ in rec.start["headers"]]
    assert b"x-private" not in names
    assert b"transfer-encoding" not in names
    assert b"upgrade" not in names
    assert rec.header("connection") == "close"


def test_a_header_value_with_a_line_break_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="leakguard")
    rec = run_app(fixed_app([CLEAN_JSON], [*JSON, (b"x-bad", b"a\r\nx-injected: 1")]))
    assert rec.header("x-bad") is None
    assert rec.header("x-injected") is None
    assert "a header with a line break dropped" in caplog.text


def test_a_person_in_a_header_is_redacted_with_ner(guard: Guard) -> None:
    headers = [*SSE, (b"x-note", b"Please ask Jane Doe about it")]
    mw = LeakGuardMiddleware(fixed_app([chat_stream(["Fine."])], headers), guard=guard)
    rec = anyio.run(lambda: drive(mw))
    assert rec.header("x-note") == "Please ask <PERSON> about it"
    assert chat_text(rec.body) == "Fine."


# -- the allow-list -----------------------------------------------------------------------------


def test_the_allow_list_is_short_and_holds_no_hop_by_hop_header() -> None:
    assert len(STRUCTURAL) <= 40
    assert not set(STRUCTURAL) & HOP_BY_HOP
    assert not is_structural(b"content-type", f"text/plain; name={EMAIL}".encode())
    assert not is_structural(b"x-ratelimit-limit-tokens", b"4111111111111111")
    assert not is_structural(b"etag", b'"4111111111111111"')
    assert is_structural(b"date", b"Mon, 07 Dec 2026 09:14:37 GMT")


@pytest.mark.parametrize("name", sorted(STRUCTURAL), ids=lambda n: n.decode())
def test_no_structural_value_holds_what_the_detectors_flag(
    name: bytes, make_guard: Callable[..., Guard]
) -> None:
    """Each grammar of the allow-list admits only values a scan finds nothing in (with
    the header's name before it, as context)."""
    guard = make_guard(PATTERNS)

    @settings(max_examples=40, deadline=None, database=None)
    @given(st.from_regex(STRUCTURAL[name], fullmatch=True))
    def check(value: bytes) -> None:
        line = f"{name.decode()}: {value.decode('latin-1')}"
        assert guard.scan(line).findings == (), line

    check()


# -- item 10: gzip members and trailing bytes ---------------------------------------------------


def chat_bytes(*texts: str) -> bytes:
    return json.dumps(chat_body(" ".join(texts))).encode()


def test_every_gzip_member_is_decoded_and_scanned(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """RFC 1952 §2.2: a gzip body is a series of members; the email is in the second."""
    whole = chat_bytes(f"Write to {EMAIL} today.")
    cut = whole.index(b"Write to") + 10
    packed = gzip.compress(whole[:cut]) + gzip.compress(whole[cut:])
    upstream.respond("200 OK", ["content-type: application/json", "content-encoding: gzip"], packed)
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, headers, body = parse(raw)
    assert status == 200
    assert "content-encoding" not in headers
    assert json.loads(body)["choices"][0]["message"]["content"] == "Write to <EMAIL_ADDRESS> today."


def test_a_streamed_body_of_gzip_members_is_decoded_to_its_end(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    stream = chat_stream(["Write to ", EMAIL, " today."])
    half = len(stream) // 2
    packed = gzip.compress(stream[:half]) + gzip.compress(stream[half:])
    upstream.respond(
        "200 OK", ["content-type: text/event-stream", "content-encoding: gzip"], packed
    )
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    _, _, body = parse(raw)
    assert chat_text(body) == "Write to <EMAIL_ADDRESS> today."
    assert body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", lambda b: gzip.compress(b) + b"\x00\x00garbage"),
        ("gzip", lambda b: gzip.compress(b) + b"\x1f"),
        ("deflate", lambda b: zlib.compress(b) + b"garbage"),
        ("br", lambda b: brotli.compress(b) + b"garbage"),
    ],
    ids=["gzip-garbage", "gzip-half-magic", "deflate", "br"],
)
def test_trailing_bytes_after_the_compressed_body_take_the_unscannable_action(
    upstream: RawUpstream,
    make_guard: Callable[..., Guard],
    caplog: pytest.LogCaptureFixture,
    coding: str,
    pack: Callable[[bytes], bytes],
) -> None:
    caplog.set_level(logging.WARNING, logger="leakguard")
    packed = pack(chat_bytes(f"Write to {EMAIL}."))
    upstream.respond(
        "200 OK", ["content-type: application/json", f"content-encoding: {coding}"], packed
    )
    with proxy_for(make_guard, upstream.url) as url:
        raw = exchange(url)
    status, _, body = parse(raw)
    assert status == 403
    assert json.loads(body)["error"]["type"] == "leakguard_unscannable"
    assert EMAIL.encode() not in raw
    assert f"the end of the {coding} body" in caplog.text or f"corrupt {coding} data" in caplog.text


def test_trailing_bytes_with_on_unscannable_pass_go_on_decoded_and_counted(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """The explicit pass: the body was decoded up to the garbage; nothing compressed goes on."""
    packed = gzip.compress(CLEAN_JSON) + b"garbage"
    upstream.respond("200 OK", ["content-type: application/json", "content-encoding: gzip"], packed)
    with proxy_for(make_guard, upstream.url, online={"on_unscannable": "pass"}) as url:
        raw = exchange(url)
    status, headers, _ = parse(raw)
    assert status == 200
    assert "content-encoding" not in headers
