from __future__ import annotations

from pathlib import Path

import pytest

from leakguard.config import LeakGuardConfig, config_fingerprint, load_config, parse_config
from leakguard.exceptions import ConfigError
from leakguard.findings import Action

ROOT = Path(__file__).resolve().parents[1]


def test_annotated_example_config_loads_and_sets_what_it_documents() -> None:
    config = load_config(ROOT / "models" / "leakguard.example.yaml")
    assert config.policy.action_for("CREDIT_CARD") is Action.MASK
    assert config.policy.action_for("US_SSN") is Action.BLOCK
    assert config.policy.action_for("PERSON") is Action.REDACT
    assert config.pii.threshold_for("PERSON") == 0.6
    assert config.pii.recognizers[0].label == "EMPLOYEE_ID"


def test_no_file_means_embedded_defaults() -> None:
    assert load_config(None) == LeakGuardConfig()


def test_config_is_frozen() -> None:
    config = LeakGuardConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.pii.score_threshold = 0.9


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pii": {"spacy_modle": "x"}}, "unknown key 'pii.spacy_modle'"),
        ({"policy": {"default_action": "redakt"}}, "key 'policy.default_action' got 'redakt'"),
        (
            {"policy": {"actions": {"EMAIL": "nuke"}}},
            "'redact', 'mask', 'hash', 'allow' or 'block'",
        ),
        ({"pii": {"score_threshold": 1.5}}, "key 'pii.score_threshold' got 1.5"),
        ({"pii": {"allow_patterns": ["(unclosed"]}}, "is not a valid regular expression"),
        ({"policy": {"placeholder": "<{label}{value}>"}}, "unknown fields ['value']"),
        ({"pii": {"deny_lists": {"CODENAME": ["x"]}}}, "not in pii.entities"),
        ({"policy": {"actions": {"lower_case": "redact"}}}, "policy.actions.lower_case"),
        ({"version": 2}, "key 'version' got 2"),
    ],
)
def test_bad_config_errors_name_the_key_the_value_and_what_is_allowed(
    data: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert expected in str(info.value)


def test_inline_hash_key_is_never_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"policy": {"hash_key": ["s3cr3t-value"]}})
    assert "s3cr3t-value" not in str(info.value)


def test_bad_yaml_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pii: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_fingerprint_tracks_policy_changes_but_not_the_secret() -> None:
    base = config_fingerprint(LeakGuardConfig())
    assert config_fingerprint(parse_config({"policy": {"mask_keep_last": 2}})) != base
    assert config_fingerprint(parse_config({"policy": {"hash_key": "abc" * 8}})) == base
