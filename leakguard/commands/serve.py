"""``leakguard serve``: the guarded reverse proxy in front of an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from leakguard.cli import EXIT_OK

# With --workers N, uvicorn imports the app in each worker process: the settings travel
# in this environment variable, set by `run` below for its own child processes only.
_SETTINGS_ENV = "LEAKGUARD_SERVE_SETTINGS"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the guarded reverse proxy",
        description=(
            "Forward every request to UPSTREAM (an OpenAI-compatible server: vLLM, TGI, "
            "Ollama, llama.cpp, a hosted API) and guard every response, streamed or not. "
            "Also serves /healthz and /metrics (Prometheus)."
        ),
    )
    p.add_argument("--upstream", metavar="URL", help="upstream base URL (or proxy.upstream)")
    p.add_argument("--config", metavar="PATH", help="YAML config (default: embedded defaults)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    p.set_defaults(handler=run)


def load_settings(config_path: str | None, upstream: str | None) -> Any:
    """The config file with ``--upstream`` applied, validated like the file itself."""
    from leakguard.config import load_config, parse_config

    config = load_config(config_path)
    if upstream is None:
        return config
    data = config.model_dump(mode="json", exclude_unset=True)
    data["proxy"] = {**data.get("proxy", {}), "upstream": upstream}
    # Secrets come back as "**********" from a dump: keep the originals.
    return config.model_copy(update={"proxy": parse_config(data, source="--upstream").proxy})


def build(config: Any) -> Any:
    """The proxy app; the place to attach an audit sink (``sink=``) for the redaction log."""
    from leakguard.proxy import build_app

    return build_app(config)


def worker_app() -> Any:
    """uvicorn factory for ``--workers N``: rebuilds the app in each worker."""
    settings = json.loads(os.environ[_SETTINGS_ENV])
    return build(load_settings(settings["config"], settings["upstream"]))


def run(args: argparse.Namespace) -> int:
    import uvicorn

    config = load_settings(args.config, args.upstream)
    if args.workers > 1:
        os.environ[_SETTINGS_ENV] = json.dumps({"config": args.config, "upstream": args.upstream})
        app: Any = "leakguard.commands.serve:worker_app"
        factory = True
        build(config)  # fail here, once, on a bad config rather than in every worker
    else:
        app, factory = build(config), False
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        factory=factory,
        log_level="info",
        access_log=False,
    )
    return EXIT_OK
