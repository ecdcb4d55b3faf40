"""Issue 21, items 1-6 and the config's keys: route policies merge key by key, labels are
validated, keys are resolved once at load. Through the real proxy and the real middleware
(uvicorn on 127.0.0.1, httpx as the client)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from leakguard.audit.chain import AuditKey
from leakguard.config import LeakGuardConfig, load_config, parse_config
from leakguard.exceptions import ConfigError
from leakguard.findings import Action, Finding
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.policy import Policy
from leakguard.proxy import build_app
from leakguard.testing import fake_upstream, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "models" / "leakguard.example.yaml"
SSN = "536-90-4399"
PROMPT = f"Write back: the SSN is {SSN} and the mail is ann@corp.io."
KEY = "k" * 32


def example_config(**changes: Any) -> LeakGuardConfig:
    """The shipped example, pattern recognizers only (fast), with ``changes`` applied."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["pii"]["spacy_model"] = "none"
    for section, values in changes.items():
        data[section] = {**data.get(section, {}), **values}
    return parse_config(data, source=str(EXAMPLE))


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_in_thread(fake_upstream()) as url:
        yield url


@pytest.fixture(scope="module")
def example_proxy(upstream: str) -> Iterator[str]:
    config = example_config(proxy={"upstream": upstream})
    with serve_in_thread(build_app(config)) as url:
        yield url


@pytest.fixture(scope="module")
def example_middleware() -> Iterator[str]:
    """The fake model server wrapped in the middleware, as an app would add it."""
    app = LeakGuardMiddleware(fake_upstream(), config=example_config())
    with serve_in_thread(app) as url:
        yield url


def post(base: str, path: str, *, stream: bool, headers: dict[str, str] | None = None) -> str:
    if path.endswith("/chat/completions"):
        body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": PROMPT}]}
    elif path.endswith("/responses"):
        body = {"model": "m", "input": PROMPT}
    else:
        body = {"model": "m", "prompt": PROMPT}
    reply = httpx.post(base + path, json={**body, "stream": stream}, headers=headers, timeout=30)
    return reply.text


ROUTES = ["/v1/chat/completions", "/v1/completions", "/v1/responses"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("server", ["example_proxy", "example_middleware"])
def test_the_example_config_blocks_ssns_on_every_route(
    server: str, path: str, stream: bool, request: pytest.FixtureRequest
) -> None:
    """Item 1: the route rule for /v1/*/completions (PERSON: redact) keeps US_SSN: block."""
    text = post(request.getfixturevalue(server), path, stream=stream)
    assert SSN not in text
    assert "withheld" in text or "blocked" in text
    assert "ann@corp.io" not in text


def test_a_route_policy_changes_only_the_keys_and_labels_it_names() -> None:
    config = example_config(
        online={
            "routes": [
                {
                    "path": "/v1/",
                    "policy": {
                        "actions": {"PERSON": "allow"},
                        "block_on_labels": ["EMAIL_ADDRESS"],
                        "mask_keep_last": 2,
                    },
                }
            ]
        }
    )
    policy = config.online.routes[0].policy_over(config.policy)
    assert policy.action_for("PERSON") is Action.ALLOW
    assert policy.action_for("US_SSN") is Action.BLOCK  # from the global policy
    assert policy.action_for("CREDIT_CARD") is Action.MASK
    assert policy.block_on_labels == ["EMAIL_ADDRESS"]
    assert policy.mask_keep_last == 2
    assert policy.numbered_placeholders is True  # not named: the global value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"policy": {"actions": {"US_SNN": "block"}}},
            "unknown label 'US_SNN' in policy.actions; did you mean US_SSN? Known: ",
        ),
        (
            {"policy": {"block_on_labels": ["SSN"]}},
            "unknown label 'SSN' in policy.block_on_labels; did you mean US_SSN?",
        ),
        (
            {"pii": {"thresholds": {"PERSN": 0.7}}},
            "unknown label 'PERSN' in pii.thresholds; did you mean PERSON?",
        ),
        (
            {"pii": {"entities": ["EMAIL", "PHONE"]}},
            "unknown label 'EMAIL' in pii.entities; did you mean EMAIL_ADDRESS?",
        ),
        (
            {"online": {"routes": [{"path": "/v1/", "policy": {"actions": {"CARD": "mask"}}}]}},
            "unknown label 'CARD' in online.routes[0].policy.actions; did you mean CREDIT_CARD?",
        ),
        (
            {"policy": {"actions": {"LOCATION": "redact"}}},
            "label 'LOCATION' in policy.actions is never detected: add it to pii.entities",
        ),
        (
            {"pii": {"spacy_model": "none", "entities": ["PERSON", "NRP"]}},
            "unknown label 'NRP' in pii.entities",
        ),
        (
            {"pii": {"builtin_recognizers": False, "entities": ["SECRET"]}},
            "unknown label 'SECRET' in pii.entities",
        ),
    ],
)
def test_labels_nothing_produces_are_rejected_with_a_suggestion(
    data: dict[str, Any], expected: str
) -> None:
    """Items 2 and 3."""
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert expected in str(info.value)


def test_labels_of_custom_recognizers_memorization_and_other_languages_are_known() -> None:
    config = parse_config(
        {
            "pii": {
                "language": "es",
                "entities": ["ES_NIF", "PERSON", "TICKET"],
                "deny_lists": {"TICKET": ["TCK-1"]},
            },
            "policy": {"actions": {"MEMORIZED": "block", "TICKET": "mask", "ES_NIF": "hash"}},
            "memorization": {"label": "MEMORIZED"},
        }
    )
    assert config.policy.action_for("TICKET") is Action.MASK


def test_serve_with_a_misspelt_label_fails_at_start_up_with_the_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from leakguard.cli import main

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("policy:\n  actions:\n    US_SNN: block\n", encoding="utf-8")
    assert main(["serve", "--config", str(cfg), "--upstream", "http://127.0.0.1:9"]) == 2
    assert "did you mean US_SSN?" in capsys.readouterr().err


class _Failing:
    name = "pii"

    def __init__(self, message: str) -> None:
        self.message = message

    def detect(self, text: str) -> list[Finding]:
        raise ValueError(self.message.format(text=text))


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        ("No matching recognizers were found to serve the request.", "No matching recognizers"),
        ("cannot parse {text}", "message withheld"),
    ],
)
def test_a_detector_error_is_blocked_and_its_message_logged_unless_it_quotes_the_text(
    message: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 3: through the real middleware on uvicorn."""
    config = parse_config({"pii": {"spacy_model": "none"}})
    guard = Guard(config, detectors=[_Failing(message)])
    app = LeakGuardMiddleware(fake_upstream(), guard=guard)
    with caplog.at_level(logging.WARNING, logger="leakguard"), serve_in_thread(app) as url:
        text = post(url, "/v1/chat/completions", stream=False)
    assert "ann@corp.io" not in text
    records = [r.getMessage() for r in caplog.records if "detector failed" in r.getMessage()]
    assert records
    assert all(logged in r for r in records)
    assert all("ann@corp.io" not in r and SSN not in r for r in records)


def test_every_annotated_value_of_the_example_is_the_default_or_says_it_is_an_example() -> None:
    """Item 4: "leaving one out gives the default shown here" holds line by line."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    root = yaml.compose(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(root, yaml.MappingNode)
    loaded, default = load_config(EXAMPLE), LeakGuardConfig()
    unmarked = []
    for section_node, body in root.value:
        if not isinstance(body, yaml.MappingNode):
            continue
        section = section_node.value
        for key_node, _ in body.value:
            key = key_node.value
            ours = getattr(getattr(loaded, section), key)
            if ours == getattr(getattr(default, section), key):
                continue
            at = key_node.start_mark.line
            above = at
            while above > 0 and lines[above - 1].lstrip().startswith("#"):
                above -= 1
            if "example" not in " ".join(lines[above : at + 1]).lower():
                unmarked.append(f"{section}.{key}")
    assert unmarked == []


@pytest.mark.parametrize("where", ["inline", "env"])
def test_hash_key_needs_16_bytes_like_the_audit_key(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 5."""
    monkeypatch.setenv("LEAKGUARD_HASH_KEY", "short-key" if where == "env" else KEY)
    data: dict[str, Any] = {"policy": {"default_action": "hash"}}
    if where == "inline":
        data["policy"]["hash_key"] = "k"
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert "at least 16" in str(info.value)
    assert "short-key" not in str(info.value)
    with pytest.raises(ConfigError, match="at least 16"):
        parse_config({"audit": {"fingerprint_key": "k" * 15}})


def test_keys_are_read_from_the_environment_once_when_the_config_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18 item 5: later changes to the environment do not change a loaded config."""
    monkeypatch.setenv("LEAKGUARD_HASH_KEY", "a" * 16)
    monkeypatch.setenv("LEAKGUARD_AUDIT_KEY", "b" * 16)
    monkeypatch.setenv("LEAKGUARD_PSEUDONYM_KEY", "c" * 16)
    monkeypatch.setenv("LEAKGUARD_REVIEW_PASSWORD", "d" * 16)
    config = parse_config({"policy": {"default_action": "hash"}})
    monkeypatch.setenv("LEAKGUARD_HASH_KEY", "z" * 16)
    for name in ("AUDIT_KEY", "PSEUDONYM_KEY", "REVIEW_PASSWORD"):
        monkeypatch.delenv(f"LEAKGUARD_{name}")
    assert config.policy.hash_key is not None
    assert config.policy.hash_key.get_secret_value() == "a" * 16
    assert config.audit.fingerprint_key is not None
    assert config.audit.fingerprint_key.get_secret_value() == "b" * 16
    assert config.sanitize.pseudonym_key is not None
    assert config.audit.review_password is not None
    finding = Finding("pii", "EMAIL_ADDRESS", 0, 8, 0.9)
    hashed = Policy(config.policy).decide("a@b.io x", [finding]).text
    again = Policy(parse_config({"policy": {"default_action": "hash"}}).policy)
    assert again.decide("a@b.io x", [finding]).text != hashed  # a new load reads anew


@pytest.fixture(scope="module")
def team_app() -> Iterator[str]:
    """Item 6: a route rule matching the X-Team header by fingerprint allows e-mail
    addresses for one team; everyone else gets the global policy."""
    fingerprint = AuditKey(KEY.encode()).fingerprint("TENANT", "support-team")
    config = parse_config(
        {
            "pii": {"spacy_model": "none"},
            "audit": {"fingerprint_key": KEY},
            "online": {
                "routes": [
                    {
                        "path": "/v1/",
                        "header": "X-Team",
                        "fingerprints": [fingerprint],
                        "policy": {"actions": {"EMAIL_ADDRESS": "allow"}},
                    }
                ]
            },
        }
    )
    with serve_in_thread(LeakGuardMiddleware(fake_upstream(), config=config)) as url:
        yield url


@pytest.mark.parametrize(
    ("headers", "kept"),
    [
        ({"x-team": "support-team"}, True),
        ({"X-TEAM": "support-team"}, True),
        ({"x-team": "sales"}, False),
        ({}, False),
    ],
)
def test_route_rules_can_match_a_request_header_by_fingerprint(
    team_app: str, headers: dict[str, str], kept: bool
) -> None:
    text = post(team_app, "/v1/chat/completions", stream=True, headers=headers)
    assert ("ann@corp.io" in text) is kept
    assert SSN not in text  # redacted either way: the route changes only EMAIL_ADDRESS


def test_a_header_rule_needs_the_audit_key_and_both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAKGUARD_AUDIT_KEY", raising=False)
    rule = {"header": "X-Team", "fingerprints": ["0123456789abcdef"]}
    with pytest.raises(ConfigError, match="needs the audit key"):
        parse_config({"online": {"routes": [rule]}})
    with pytest.raises(ConfigError, match="needs both `header` and `fingerprints`"):
        parse_config({"online": {"routes": [{"header": "X-Team"}]}})
