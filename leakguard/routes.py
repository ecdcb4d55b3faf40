"""Route rules of the online guard: which requests are guarded, and with which policy.

Part of the configuration tree (``online.routes``, ``online.json_paths``; importable from
:mod:`leakguard.config` too). First matching rule wins; a path is a prefix, or an fnmatch
glob when it has ``*?[``; a rule may also require a request header whose value has one of
the given keyed fingerprints.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from leakguard.config import LeakGuardConfig, PolicyConfig

__all__ = [
    "JSONPathRule",
    "RouteRule",
    "header_fingerprinter",
    "path_matches",
    "route_headers",
]

Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _route_pattern(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"route path {value!r} must start with '/' (a prefix or an fnmatch glob)")
    return value


def path_matches(pattern: str, path: str) -> bool:
    """A route pattern is an fnmatch glob when it has ``*?[``, otherwise a path prefix."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path.startswith(pattern)


class RouteRule(_Rule):
    """Whether requests under ``path`` (and, optionally, with a given request header) are
    guarded, and with which policy changes.

    ``policy`` changes the global policy key by key: ``actions`` entries replace the global
    entry of the same label and leave the others (so a route that redacts PERSON still
    blocks US_SSN); ``block_on_labels`` adds to the global list; other keys replace it.
    """

    path: str = "/"
    guard: bool = True
    # Match only requests whose `header` value has one of these keyed fingerprints
    # (audit.fingerprint_key; `leakguard audit fingerprint` prints one, and audit records
    # show the tenant header's the same way): scope by API key id, team or tenant without
    # writing the values into the config.
    header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    fingerprints: list[Fingerprint] = Field(default_factory=list)
    # Keys of the policy section to change on this route, e.g. {actions: {PERSON: allow}}.
    policy: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        return _route_pattern(value)

    @field_validator("policy")
    @classmethod
    def _policy_keys_are_known(cls, value: dict[str, Any]) -> dict[str, Any]:
        from leakguard.config import PolicyConfig  # the tree's module, loaded by now

        PolicyConfig.model_validate(value)  # unknown keys and bad values fail at start-up
        return value

    @model_validator(mode="after")
    def _header_and_fingerprints_go_together(self) -> RouteRule:
        if (self.header is None) != (not self.fingerprints):
            raise ValueError(
                "a route rule matching a request header needs both `header` and "
                "`fingerprints` (keyed fingerprints of the values: leakguard audit fingerprint)"
            )
        return self

    def matches(
        self, path: str, headers: Mapping[str, str], fingerprint: Callable[[str], str] | None
    ) -> bool:
        """The path matches, and the header's value (lower-cased names in ``headers``)
        has one of the rule's fingerprints."""
        if not path_matches(self.path, path):
            return False
        if self.header is None:
            return True
        value = headers.get(self.header.lower())
        if value is None or fingerprint is None:
            return False
        return fingerprint(value) in self.fingerprints

    def policy_over(self, base: PolicyConfig) -> PolicyConfig:
        """The effective policy on this route: ``base`` changed key by key."""
        if not self.policy:
            return base
        from leakguard.config import PolicyConfig

        data = base.model_dump()
        for key, value in self.policy.items():
            if key == "actions":
                data[key] = {**data[key], **value}
            elif key == "block_on_labels":
                data[key] = [*data[key], *(v for v in value if v not in data[key])]
            else:
                data[key] = value
        return PolicyConfig.model_validate(data)


class JSONPathRule(_Rule):
    """Where the model's text is in JSON responses of a schema leakguard does not know."""

    path: str
    # Dotted field paths into the body (or into each streamed event); "*" walks a list:
    # "data.*.generated_text".
    fields: list[Annotated[str, Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$")]] = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        return _route_pattern(value)


def route_headers(scope: Mapping[str, Any], names: frozenset[bytes]) -> dict[str, str]:
    """The request headers route rules match on (``names``: lower-cased), from an ASGI
    scope; a value that is not Latin-1 text counts as absent."""
    if not names:
        return {}
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        lowered = bytes(name).lower()
        if lowered in names:
            found.setdefault(lowered.decode("latin-1"), bytes(value).decode("latin-1").strip())
    return found


def header_fingerprinter(config: LeakGuardConfig) -> Callable[[str], str] | None:
    """The keyed fingerprint route rules compare header values by (the audit key's, as
    audit records show the tenant header), or ``None`` when no rule matches a header."""
    if not any(rule.header is not None for rule in config.online.routes):
        return None
    from leakguard.audit.chain import resolve_audit_key

    key = resolve_audit_key(config.audit)  # present: the config checks it at load
    return lambda value: key.fingerprint("TENANT", value)
