from __future__ import annotations

import hashlib
import hmac

import pytest

from leakguard.config import PolicyConfig
from leakguard.exceptions import ConfigError
from leakguard.findings import Finding, OutcomeAction
from leakguard.policy import Numbering, Policy

TEXT = "Mail ann@x.io or bob@y.io, again ann@x.io. Card 4111111111111111."
ANN1, BOB, ANN2, CARD = (5, 13), (17, 25), (33, 41), (48, 64)


def finding(span: tuple[int, int], label: str = "EMAIL_ADDRESS") -> Finding:
    return Finding("pii", label, span[0], span[1], 0.9)


def emails_and_card() -> list[Finding]:
    return [finding(ANN1), finding(BOB), finding(ANN2), finding(CARD, "CREDIT_CARD")]


def policy(**kwargs: object) -> Policy:
    return Policy(PolicyConfig.model_validate(kwargs))


def test_redact_writes_typed_placeholders() -> None:
    outcome = policy().decide(TEXT, emails_and_card())
    assert outcome.action is OutcomeAction.REDACT
    assert outcome.text == (
        "Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS>, again <EMAIL_ADDRESS>. Card <CREDIT_CARD>."
    )


def test_numbered_placeholders_give_the_same_value_the_same_number() -> None:
    outcome = policy(numbered_placeholders=True).decide(TEXT, emails_and_card())
    assert outcome.text == (
        "Mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_2>, again <EMAIL_ADDRESS_1>. "
        "Card <CREDIT_CARD_1>."
    )


def test_numbering_object_carries_numbers_across_calls_of_one_response() -> None:
    pol, numbering = policy(numbered_placeholders=True), Numbering()
    first = pol.decide("bob@y.io", [finding((0, 8))], numbering=numbering)
    second = pol.decide(
        "ann@x.io bob@y.io", [finding((0, 8)), finding((9, 17))], numbering=numbering
    )
    assert first.text == "<EMAIL_ADDRESS_1>"
    assert second.text == "<EMAIL_ADDRESS_2> <EMAIL_ADDRESS_1>"


def test_mask_keeps_the_last_characters() -> None:
    outcome = policy(actions={"CREDIT_CARD": "mask"}).decide(TEXT, [finding(CARD, "CREDIT_CARD")])
    assert outcome.text == "Mail ann@x.io or bob@y.io, again ann@x.io. Card ************1111."


def test_mask_never_reveals_more_than_half_of_a_short_value() -> None:
    outcome = policy(default_action="mask", mask_keep_last=4).decide(
        "id 123456", [finding((3, 9), "ID")]
    )
    assert outcome.text == "id ***456"


def test_hash_writes_a_keyed_hmac_fingerprint() -> None:
    outcome = policy(default_action="hash", hash_key="k3y-0123456789abcdef").decide(
        TEXT, [finding(BOB)]
    )
    digest = hmac.new(
        b"k3y-0123456789abcdef", b"EMAIL_ADDRESS\x00bob@y.io", hashlib.sha256
    ).hexdigest()[:12]
    assert (
        outcome.text
        == f"Mail ann@x.io or <EMAIL_ADDRESS:{digest}>, again ann@x.io. Card 4111111111111111."
    )


def test_hash_key_can_come_from_the_named_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_KEY", "k3y-0123456789abcdef")
    from_env = policy(default_action="hash", hash_key_env="MY_KEY").decide(TEXT, [finding(BOB)])
    inline = policy(default_action="hash", hash_key="k3y-0123456789abcdef").decide(
        TEXT, [finding(BOB)]
    )
    assert from_env.text == inline.text


def test_hash_without_a_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAKGUARD_HASH_KEY", raising=False)
    with pytest.raises(ConfigError, match="no key is set"):
        policy(actions={"US_SSN": "hash"})


def test_allow_keeps_the_text_and_records_the_finding() -> None:
    outcome = policy(default_action="allow").decide(TEXT, [finding(BOB)])
    assert outcome.action is OutcomeAction.PASS
    assert outcome.text == TEXT
    assert len(outcome.findings) == 1
    assert outcome.findings[0].replacement is None


def test_block_action_replaces_the_whole_response() -> None:
    outcome = policy(actions={"CREDIT_CARD": "block"}, block_message="withheld").decide(
        TEXT, emails_and_card()
    )
    assert outcome.action is OutcomeAction.BLOCK
    assert outcome.text == "withheld"
    assert outcome.reason == "action:CREDIT_CARD"


def test_block_on_labels_blocks_even_when_the_label_is_redacted() -> None:
    outcome = policy(block_on_labels=["CREDIT_CARD"]).decide(TEXT, emails_and_card())
    assert outcome.blocked
    assert outcome.reason == "label:CREDIT_CARD"


def test_more_findings_than_max_findings_blocks() -> None:
    assert policy(max_findings=4).decide(TEXT, emails_and_card()).action is OutcomeAction.REDACT
    outcome = policy(max_findings=3).decide(TEXT, emails_and_card())
    assert outcome.blocked
    assert outcome.reason == "max_findings:3"


def test_no_findings_passes_the_text_unchanged() -> None:
    outcome = policy().decide(TEXT, [])
    assert outcome.action is OutcomeAction.PASS
    assert outcome.text == TEXT


def test_overlapping_findings_are_redacted_once() -> None:
    outcome = policy().decide(TEXT, [finding((5, 13)), finding((8, 20), "URL")])
    # Same score: the longer member (URL, 8..20) leads; the union 5..20 is replaced once.
    assert outcome.text == "Mail <URL>@y.io, again ann@x.io. Card 4111111111111111."
    assert len(outcome.findings) == 1
