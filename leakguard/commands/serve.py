"""``leakguard serve``: the guarded reverse proxy in front of an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from leakguard.commands.exit_codes import EXIT_OK

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
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (1); one per CPU core scans the most; /metrics sums them all",
    )
    p.add_argument(
        "--pin-cpus",
        action="store_true",
        help=(
            "pin each worker process to its own CPU, in turn over the CPUs this process may "
            "use (Linux): a worker's event loop and scan threads then share one core's "
            "caches. Pays off when the proxy has the cores to itself; leave it off where "
            "other busy services share them (a pinned worker cannot move off a busy core)"
        ),
    )
    p.add_argument(
        "--audit-log",
        metavar="DIR",
        help="write the redaction log to this JSON Lines directory (one stream per worker)",
    )
    p.set_defaults(handler=run)


def load_settings(
    config_path: str | None, upstream: str | None, audit_log: str | None = None
) -> Any:
    """The config file with ``--upstream`` and ``--audit-log`` applied, validated like the
    file itself."""
    from leakguard.config import load_config, parse_config

    config = load_config(config_path)
    if audit_log is not None:
        audit = config.audit.model_copy(
            update={"enabled": True, "sink": "jsonl", "path": audit_log}
        )
        config = config.model_copy(update={"audit": audit})
    if upstream is None:
        return config
    # A Python-mode dump keeps secrets as SecretStr (a JSON one would mask them).
    data = config.model_dump(exclude_unset=True)
    data["proxy"] = {**data.get("proxy", {}), "upstream": upstream}
    return config.model_copy(update={"proxy": parse_config(data, source="--upstream").proxy})


def build(config: Any, *, open_log: bool = True, metrics_dir: str | None = None) -> Any:
    """The proxy app, writing the redaction log when ``audit.enabled`` (its sink's counters
    join ``/metrics``; the app's lifespan closes it). ``open_log=False`` only checks that
    the log could be written (key and directory), for a dry build. With ``metrics_dir``
    (``--workers N``) ``/metrics`` reports every worker's numbers summed."""
    from leakguard.online.metrics import Metrics
    from leakguard.proxy import build_app

    metrics = Metrics()
    if metrics_dir is not None:
        metrics.share(metrics_dir)
    if not config.audit.enabled:
        return build_app(config, metrics=metrics)
    from leakguard.audit.chain import resolve_audit_key
    from leakguard.audit.sinks import check_writable, open_sink

    if not open_log:
        resolve_audit_key(config.audit)
        check_writable(config.audit.path)
        # A dry build: no log stream (the middleware would open one for audit.enabled).
        dry = config.model_copy(
            update={"audit": config.audit.model_copy(update={"enabled": False})}
        )
        return build_app(dry, metrics=metrics)
    sink = open_sink(config)
    metrics.add_collector(sink.prometheus)
    try:
        return build_app(config, sink=sink, metrics=metrics)
    except BaseException:
        sink.close()
        raise


def pin_to_next_cpu(counter: str | None = None) -> int:
    """Pin this process (every thread it has, and so the ones it starts later) to the next
    CPU in turn: ``counter`` is a file the workers of one server share, holding how many
    have pinned themselves so far (``None``: a single process, the first CPU). Returns the
    CPU."""
    taken = 0
    if counter is not None:
        import fcntl

        with open(counter, "a+", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            taken = int(handle.read().strip() or 0)
            handle.seek(0)
            handle.truncate()
            handle.write(str(taken + 1))
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[taken % len(cpus)]
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), {cpu})
        except (ProcessLookupError, PermissionError):  # a thread that just ended
            continue
    return cpu


def _log_blocks() -> None:
    """The middleware's one line per blocked response (no text) shows by default."""
    middleware_log = logging.getLogger("leakguard.middleware")
    if middleware_log.getEffectiveLevel() > logging.INFO:
        middleware_log.setLevel(logging.INFO)


def summary(config: Any, *, config_path: str | None, workers: int, host: str, port: int) -> str:
    """The start-up line: what this server guards with, where it records, where it listens."""
    from urllib.parse import urlsplit

    from leakguard.config import config_fingerprint

    upstream = urlsplit(config.proxy.upstream or "")
    host_part = upstream.hostname or "?"
    if upstream.port:
        host_part += f":{upstream.port}"
    shown = f"{upstream.scheme}://{host_part}{upstream.path}"  # never the credentials
    audit = config.audit
    log = f"{audit.path} ({audit.sink})" if audit.enabled else "off"
    return (
        f"leakguard serve: config {config_path or '(embedded defaults)'}, policy version "
        f"{config_fingerprint(config)}, upstream {shown}, redaction log {log}, "
        f"{workers} worker{'s' if workers != 1 else ''}, listening on http://{host}:{port}"
    )


def worker_app() -> Any:
    """uvicorn factory for ``--workers N``: rebuilds the app in each worker."""
    settings = json.loads(os.environ[_SETTINGS_ENV])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _log_blocks()
    if settings.get("pin_cpus"):
        cpu = pin_to_next_cpu(os.path.join(settings["metrics_dir"], "pinned-cpus"))
        logging.getLogger("leakguard").info("worker %d runs on CPU %d", os.getpid(), cpu)
    config = load_settings(settings["config"], settings["upstream"], settings["audit_log"])
    return build(config, metrics_dir=settings["metrics_dir"])


def run(args: argparse.Namespace) -> int:
    import uvicorn

    config = load_settings(args.config, args.upstream, args.audit_log)
    if config.proxy.upstream is None:
        from leakguard.exceptions import ConfigError

        raise ConfigError("no upstream: pass --upstream URL or set proxy.upstream")
    _log_blocks()
    if args.pin_cpus and not hasattr(os, "sched_setaffinity"):
        from leakguard.exceptions import ConfigError

        raise ConfigError("--pin-cpus needs Linux (os.sched_setaffinity)")
    metrics_dir: str | None = None
    if args.workers > 1:
        # Fail here, once, on a bad config rather than in every worker (no log stream opened).
        build(config, open_log=False)
        # Where the workers publish their metrics, so /metrics on any of them sums all.
        metrics_dir = tempfile.mkdtemp(prefix="leakguard-metrics-")
        os.environ[_SETTINGS_ENV] = json.dumps(
            {
                "config": args.config,
                "upstream": args.upstream,
                "audit_log": args.audit_log,
                "metrics_dir": metrics_dir,
                "pin_cpus": args.pin_cpus,
            }
        )
        app: Any = "leakguard.commands.serve:worker_app"
        factory = True
    else:
        app, factory = build(config), False
        if args.pin_cpus:
            pin_to_next_cpu()
    print(
        summary(
            config, config_path=args.config, workers=args.workers, host=args.host, port=args.port
        ),
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            workers=args.workers,
            factory=factory,
            log_level="info",
            access_log=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return EXIT_OK
