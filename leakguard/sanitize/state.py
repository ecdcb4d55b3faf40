"""A sanitizing run's state in its output directory: what lets a rerun resume.

``.leakguard/run.json`` pins the settings and the pseudonym key's check (a rerun with other
settings would give one value two pseudonyms); each finished shard has a done marker under
``.leakguard/shards/``, renamed into place only after its output, so a killed run leaves no
half-written file behind; ``.leakguard/tmp`` holds unfinished shards, cleared on the next run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from leakguard._files import write_atomically
from leakguard.config import LeakGuardConfig, config_fingerprint
from leakguard.exceptions import ConfigError, CorpusError
from leakguard.sanitize.pseudonyms import key_check
from leakguard.sanitize.task import ShardReport

__all__ = [
    "DATA_DIR",
    "REJECTS_DIR",
    "STATE_DIR",
    "claim_out_dir",
    "clear_tmp",
    "load_marker",
    "run_fingerprint",
]

DATA_DIR = "data"
REJECTS_DIR = "rejects"
STATE_DIR = ".leakguard"


def run_fingerprint(config: LeakGuardConfig, *, field: str = "") -> str:
    """What decides a run's output: the guard config plus the sanitizer settings that change
    records (not workers, batch size or the key itself, whose check is kept separately)."""
    sanitize = config.sanitize.model_dump(
        mode="json",
        exclude={"pseudonym_key", "pseudonym_key_env", "workers", "batch_size", "report_samples"},
    )
    payload = {"guard": config_fingerprint(config), "sanitize": sanitize, "field": field}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def claim_out_dir(out: Path, *, fingerprint: str, key: bytes) -> None:
    """Start a run in ``out``, or check that the run already there used the same settings
    and key (mixing them would give one value two pseudonyms)."""
    state = out / STATE_DIR / "run.json"
    wanted = {"run_fingerprint": fingerprint, "key_check": key_check(key)}
    if state.exists():
        try:
            found = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot read {str(state)!r} ({exc}); use a new --out") from None
        for name, value in wanted.items():
            if found.get(name) != value:
                what = "pseudonym key" if name == "key_check" else "configuration or --field"
                raise ConfigError(
                    f"output directory {str(out)!r} holds a run made with another {what} "
                    f"({name} {found.get(name)!r}, now {value!r}); resuming it would mix two "
                    f"sets of pseudonyms. Use a new --out, or the same settings and key."
                )
        return
    if out.exists() and any(out.iterdir()):
        raise CorpusError(
            f"output directory {str(out)!r} is not empty and holds no leakguard run; "
            f"choose an empty or new directory"
        )
    write_atomically(state, json.dumps(wanted, indent=2) + "\n")


def clear_tmp(tmp_dir: Path) -> None:
    """Left-overs of a killed run: partial shard files, never renamed into place."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for leftover in tmp_dir.iterdir():
        if leftover.is_file():
            leftover.unlink()


def load_marker(marker: Path, output: Path) -> ShardReport | None:
    if not (marker.exists() and output.exists()):
        return None
    try:
        return ShardReport.from_dict(json.loads(marker.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # a damaged marker: redo the shard
