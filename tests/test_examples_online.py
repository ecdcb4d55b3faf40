"""Smoke tests: the online-guard examples run and guard what they promise."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import httpx
import openai
from openai.types.chat import ChatCompletionChunk

from leakguard.testing import serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_guarded_app_example_redacts_its_own_stream_and_leaves_health_alone() -> None:
    app = runpy.run_path(str(EXAMPLES / "guarded_app.py"))["app"]
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        text = ""
        for chunk in client.chat.completions.create(
            model="example", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            assert isinstance(chunk, ChatCompletionChunk)
            text += chunk.choices[0].delta.content or ""
        whole = client.chat.completions.create(
            model="example", messages=[{"role": "user", "content": "hi"}]
        )
        health = httpx.get(url + "/health")
    expected = (
        "I found the customer record. Please write to <EMAIL_ADDRESS> or call "
        "<PHONE_NUMBER> before Friday, and mention ticket 4471. "
    )
    assert text == expected
    assert whole.choices[0].message.content == expected.rstrip()
    assert health.json() == {"status": "ok"}
    assert "x-request-id" not in health.headers  # unguarded route


def test_proxy_in_front_example_prints_the_guarded_answer() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "proxy_in_front.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == (
        "Repeat after me: my e-mail is <EMAIL_ADDRESS> and my card is <CREDIT_CARD>."
    )
