"""`leakguard serve` in front of a local OpenAI-compatible server, from Python.

    .venv/bin/python examples/proxy_in_front.py [--upstream http://127.0.0.1:11434]

With ``--upstream`` it guards your server (Ollama, vLLM, llama.cpp, TGI); without it, it
starts leakguard's fake model server so the example runs anywhere. It then asks a
question through the proxy with the openai SDK and prints the guarded answer. The same
proxy from the shell:

    leakguard serve --upstream http://127.0.0.1:11434 --port 8080
    # clients: OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=...)
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

import openai

from leakguard.config import parse_config
from leakguard.proxy import build_app
from leakguard.testing import fake_upstream, serve_in_thread

QUESTION = "Repeat after me: my e-mail is jane.doe@example.com and my card is 4111 1111 1111 1111."


@contextlib.contextmanager
def model_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with serve_in_thread(fake_upstream()) as fake:  # echoes the prompt, token by token
        yield fake


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", help="your model server's base URL")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--ner", action="store_true", help="also detect names (spaCy NER)")
    args = parser.parse_args()
    with model_server(args.upstream) as upstream:
        config = parse_config(
            {
                "pii": {} if args.ner else {"spacy_model": "none"},
                "proxy": {"upstream": upstream},
            }
        )
        with serve_in_thread(build_app(config)) as proxy:
            client = openai.OpenAI(base_url=proxy + "/v1", api_key="not-needed")
            stream = client.chat.completions.create(
                model=args.model, messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            print("".join(c.choices[0].delta.content or "" for c in stream if c.choices))


if __name__ == "__main__":
    main()
