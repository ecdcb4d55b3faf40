"""Integrity: the hash chain of every stream that wrote in the period, checked with
:func:`leakguard.audit.verify.verify`, an anchor to file elsewhere, and the check of a
later log against an earlier anchor.

A stream's chain can only be checked from its first record, so every stream with a record
in the period is verified whole (all its segments), one stream at a time (memory bounded
by the largest stream, not the log).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leakguard.audit.chain import AuditKey
from leakguard.audit.evidence.logpass import LogTally
from leakguard.audit.evidence.schema import Flag, Period
from leakguard.audit.verify import Problem, StreamReport, verify
from leakguard.exceptions import ConfigError

__all__ = ["CANNOT_PROVE", "PROVES", "anchor_of", "integrity_section", "load_anchor"]

PROVES = [
    "Every record of the listed streams is unchanged since it was written: each carries a "
    "keyed hash (HMAC-SHA256 under the deployment's audit key) over its content and the "
    "hash of the record before it.",
    "No record was deleted, inserted, duplicated or re-ordered inside a stream: sequence "
    "numbers run without gaps and every record is chained to its predecessor.",
    "Every segment file of a stream is present up to its seal: rotations and shutdowns "
    "write a chained seal that counts the segment's records.",
]
CANNOT_PROVE = [
    "That no whole stream is missing: a worker's stream deleted in full leaves no trace in "
    "the other streams. Compare the stream list with the workers that ran.",
    "That an open stream (no closing seal) was not cut short, nor that a stream was not cut "
    "back to an earlier seal and re-sealed by someone holding the audit key, unless an "
    "earlier anchor is checked against it (--anchor).",
    "That responses refused by the audit sink (queue full, disk failing) are in the log: "
    "they are not; they were blocked (fail closed) and counted on /metrics.",
    "Anything about who held the audit key: anyone with it can write a new, valid chain.",
]
_SEGMENT = re.compile(r"^(?P<stream>.+)-\d{6}\.jsonl$")
_MAX_LISTED = 200


def _groups(paths: Sequence[str | Path]) -> list[list[Path]]:
    """Inputs split into one group per stream (JSON Lines) or per database."""
    groups: list[list[Path]] = []
    for name in paths:
        path = Path(name)
        if not path.is_dir():
            groups.append([path])
            continue
        by_stream: dict[str, list[Path]] = defaultdict(list)
        for file in sorted(path.glob("*.jsonl")):
            match = _SEGMENT.match(file.name)
            by_stream[match["stream"] if match else file.name].append(file)
        groups += [by_stream[s] for s in sorted(by_stream)]
    return groups


def _stream_of(group: list[Path]) -> str | None:
    match = _SEGMENT.match(group[0].name)
    return match["stream"] if match and group[0].suffix == ".jsonl" else None


def anchor_of(heads: list[dict[str, Any]]) -> str:
    lines = "".join(f"{h['stream']} {h['seq']} {h['hash']}\n" for h in heads)
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def load_anchor(path: str | Path) -> dict[str, Any]:
    """The anchor of an earlier package (its directory or ``evidence.json``)."""
    path = Path(path)
    file = path / "evidence.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        anchor = data["integrity"]["anchor"]
        heads = [
            {"stream": str(h["stream"]), "seq": int(h["seq"]), "hash": str(h["hash"])}
            for h in anchor["heads"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--anchor {str(path)!r} is not an earlier evidence package (its evidence.json "
            f"with integrity.anchor): {type(exc).__name__}: {exc}"
        ) from None
    return {"source": str(file), "digest": str(anchor.get("digest")), "heads": heads}


def _problem_flag(problem: Problem) -> Flag:
    return Flag("error", "integrity", f"chain_{problem.kind}", str(problem))


def _check_anchor(earlier: dict[str, Any], tally: LogTally) -> tuple[dict[str, Any], list[Flag]]:
    flags: list[Flag] = []
    heads = earlier["heads"]
    if anchor_of(heads) != earlier["digest"]:
        flags.append(
            Flag(
                "error",
                "integrity",
                "anchor_edited",
                f"the anchor in {earlier['source']} does not match its own digest "
                f"{earlier['digest']}: that file was edited",
            )
        )
    found = 0
    for head in heads:
        stream, seq = head["stream"], head["seq"]
        where = f"stream {stream} seq {seq}"
        hit = tally.anchor_hits.get((stream, seq))
        if stream not in tally.extents:
            code, message = "anchor_stream_missing", f"{where}: the stream is not in the log"
        elif hit is None:
            code, message = (
                "anchor_truncated",
                f"{where}: the log no longer reaches this record, which an earlier package "
                "anchored: records were cut off",
            )
        elif hit != head["hash"]:
            code, message = (
                "anchor_rewritten",
                f"{where}: the record's hash differs from the anchored one: the chain was "
                "rewritten",
            )
        else:
            found += 1
            continue
        flags.append(Flag("error", "integrity", code, message))
    check = {
        "source": earlier["source"],
        "digest": earlier["digest"],
        "heads": len(heads),
        "matched": found,
        "ok": not flags,
    }
    return check, flags


def integrity_section(
    paths: Sequence[str | Path],
    period: Period,
    tally: LogTally,
    *,
    key: AuditKey,
    allow_open: bool = False,
    earlier: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Flag]]:
    """Verify the streams that wrote in the period; (section, flags)."""
    reports: list[StreamReport] = []
    problems: list[Problem] = []
    for group in _groups(paths):
        stream = _stream_of(group)
        if stream is not None:
            extent = tally.extents.get(stream)
            overlaps = extent is not None and not (
                extent.last_ts < period.start or extent.first_ts >= period.end
            )
            if not overlaps and stream not in tally.streams_in_period:
                continue
        result = verify(group, key=key, allow_open=allow_open)
        reports += [r for r in result.streams if r.stream in tally.streams_in_period]
        problems += result.problems
    flags = [_problem_flag(p) for p in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        flags.append(
            Flag(
                "error",
                "integrity",
                "chain_more",
                f"{len(problems) - _MAX_LISTED:,} more chain problems "
                "(leakguard audit verify lists them all)",
            )
        )
    heads = [
        {
            "stream": r.stream,
            "seq": tally.extents[r.stream].last_seq,
            "hash": tally.extents[r.stream].last_hash,
        }
        for r in reports
        if r.stream in tally.extents
    ]
    section: dict[str, Any] = {
        "verified": not problems,
        "streams": [
            {
                "stream": r.stream,
                "records": r.records,
                "segments": r.segments,
                "first_ts": r.first_ts,
                "last_ts": r.last_ts,
                "head": r.head,
                "sealed": r.sealed,
            }
            for r in reports
        ],
        "problems": [
            {"kind": p.kind, "where": p.where, "message": p.message} for p in problems[:_MAX_LISTED]
        ],
        "problem_count": len(problems),
        "first_record": tally.first,
        "last_record": tally.last,
        "anchor": {"digest": anchor_of(heads), "heads": heads},
        "anchor_check": None,
        "proves": PROVES,
        "cannot_prove": CANNOT_PROVE,
        "key_id": key.key_id,
    }
    if earlier is not None:
        section["anchor_check"], more = _check_anchor(earlier, tally)
        flags += more
    return section, flags
