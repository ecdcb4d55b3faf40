"""The shape of ``evidence.json`` (versioned), the period it covers, and flagged findings.

``SCHEMA_VERSION`` changes whenever a field changes meaning or goes away; new fields may
appear within a version. :data:`SCHEMA` is the JSON Schema of the top level and of each
section (written next to the package as ``evidence.schema.json``); the README's "SOC 2
evidence package" section says what every figure means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from leakguard.exceptions import ConfigError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "Flag", "Period", "parse_period"]

SCHEMA_VERSION = 1

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Flag:
    """One finding of the evidence build: something that does not match or is missing.

    ``error``: the evidence contradicts itself (a broken chain, a link that does not
    match); ``warning``: evidence that is missing or cannot be checked."""

    severity: Severity
    section: str  # controls | operation | integrity | lineage | review
    code: str  # a stable name, e.g. chain_edited, index_mismatch
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Period:
    """A UTC period, ``start`` inclusive, ``end`` exclusive, as record timestamps."""

    first_day: str
    last_day: str
    start: str
    end: str

    def contains(self, ts: str) -> bool:
        return self.start <= ts < self.end

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date: give it as YYYY-MM-DD (UTC)") from None


def parse_period(first: str, last: str, *, names: tuple[str, str] = ("--from", "--to")) -> Period:
    """``--from`` and ``--to`` as dates; both days are included. ``names``: what the two
    are called where they were typed (options, or a form's fields), for the messages."""
    start, end = _day(first, names[0]), _day(last, names[1])
    if end < start:
        raise ConfigError(
            f"{names[1]} {last} is before {names[0]} {first}: the period would be empty"
        )
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    stop = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return Period(start.isoformat(), end.isoformat(), _ts(begin), _ts(stop))


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with ``required`` keys; ``optional`` ones were added within the version."""
    properties = required | (optional or {})
    return {"type": "object", "required": sorted(required), "properties": properties}


_FLAG = _object(
    {
        "severity": {"enum": ["error", "warning"]},
        "section": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    }
)
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://leakguard.dev/schemas/evidence-v{SCHEMA_VERSION}.json",
    "title": "leakguard SOC 2 evidence package",
    **_object(
        {
            "schema_version": {"const": SCHEMA_VERSION},
            "leakguard": {"type": "string"},
            "generated": {"type": "string"},
            "period": _object(
                {
                    "first_day": {"type": "string"},
                    "last_day": {"type": "string"},
                    "start": {"type": "string"},
                    "end": {"type": "string"},
                }
            ),
            "inputs": {"type": "object"},
            "flags": {"type": "array", "items": _FLAG},
            "controls": _object(
                {
                    "configs": {"type": "array"},
                    "changes": {"type": "array"},
                    "unknown_fingerprints": {"type": "array"},
                }
            ),
            "operation": _object(
                {
                    "records": {"type": "integer"},
                    "guarded": {"type": "integer"},
                    "fully_scanned": {"type": "integer"},
                    "fully_scanned_share": {"type": ["number", "null"]},
                    "actions": _COUNTS,
                    "per_day": {"type": "array"},
                    "findings_per_label": {"type": "object"},
                    "fail_closed": _COUNTS,
                    "policy_blocks": _COUNTS,
                    "passed_unscanned": _COUNTS,
                    "audit_refusals": {"type": "integer"},
                    "sources": _COUNTS,
                    "routes": _COUNTS,
                    "gaps": {"type": "array"},
                    "streams": {"type": "integer"},
                    "segments": {"type": "integer"},
                    "log_rotations": {"type": "integer"},
                    "key_ids": {"type": "array"},
                    "key_rotations": {"type": "array"},
                }
            ),
            "integrity": _object(
                {
                    "verified": {"type": "boolean"},
                    "streams": {"type": "array"},
                    "problems": {"type": "array"},
                    "problem_count": {"type": "integer"},
                    "first_record": {"type": ["object", "null"]},
                    "last_record": {"type": ["object", "null"]},
                    "anchor": _object({"digest": {"type": "string"}, "heads": {"type": "array"}}),
                    "anchor_check": {"type": ["object", "null"]},
                    "proves": {"type": "array", "items": {"type": "string"}},
                    "cannot_prove": {"type": "array", "items": {"type": "string"}},
                }
            ),
            "lineage": _object(
                {
                    "sanitize_runs": {"type": "array"},
                    "dp_runs": {"type": "array"},
                    "indexes": {"type": "array"},
                    "served_indexes": {"type": "array"},
                    "links": {"type": "array"},
                },
                {"probes": {"type": "array"}},  # 'leakguard dp probe' results found
            ),
            "review": _object(
                {
                    "verdicts": {"type": "array"},
                    "verdict_counts": _COUNTS,
                    "allow_list_changes": {"type": "array"},
                }
            ),
            "sample": _object(
                {
                    "seed": {"type": "string"},
                    "size": {"type": "integer"},
                    "population": {"type": "integer"},
                    "method": {"type": "string"},
                    "redraw": {"type": "string"},
                    "records": {"type": "array"},
                }
            ),
            "criteria": {"type": "array"},
        }
    ),
}


def check_shape(document: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> list[str]:
    """The required keys and JSON types ``document`` lacks (a small JSON Schema subset:
    ``required``, ``type``, ``const``, nested ``properties``): empty when it conforms."""
    problems: list[str] = []
    _check(document, schema, "$", problems)
    return problems


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _check(value: Any, schema: dict[str, Any], where: str, problems: list[str]) -> None:
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    wanted = schema.get("type")
    if wanted is not None:
        names = [wanted] if isinstance(wanted, str) else wanted
        ok = any(
            isinstance(value, _TYPES[n]) and not (n in ("integer", "number") and value is True)
            for n in names
        )
        if not ok:
            problems.append(f"{where}: expected {'/'.join(names)}, got {type(value).__name__}")
            return
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                problems.append(f"{where}: missing {name!r}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _check(value[name], sub, f"{where}.{name}", problems)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]", problems)
