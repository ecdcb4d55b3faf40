"""Every label a configured detector can produce, so the config can reject the others.

A label nothing produces (``US_SNN`` for ``US_SSN``, ``EMAIL`` for ``EMAIL_ADDRESS``) in
``policy.actions`` or ``block_on_labels`` silently does nothing, and in ``pii.entities``
it makes Presidio refuse every scan. The tables below are static, so loading a config
never imports Presidio; ``tests/test_labels.py`` compares them with the real registry,
leakguard's own recognizers and the NER mapping, so they cannot go stale.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakguard.config import LeakGuardConfig, PIIConfig

__all__ = [
    "BUILTIN_LABELS",
    "NER_LABELS",
    "PRESIDIO_ANY_LANGUAGE",
    "PRESIDIO_BY_LANGUAGE",
    "check_labels",
    "label_error",
    "producible_labels",
]

# Presidio's predefined recognizers (presidio-analyzer 2.2), for every language ...
PRESIDIO_ANY_LANGUAGE: frozenset[str] = frozenset(
    {
        "CRYPTO",
        "DATE_TIME",
        "EMAIL_ADDRESS",
        "IBAN_CODE",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "MEDICAL_LICENSE",
        "PHONE_NUMBER",
        "URL",
        "UUID",
    }
)
# ... and those loaded only for one language.
PRESIDIO_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset(
        {
            "CREDIT_CARD",
            "UK_NHS",
            "US_BANK_NUMBER",
            "US_DRIVER_LICENSE",
            "US_ITIN",
            "US_PASSPORT",
            "US_SSN",
        }
    ),
    "es": frozenset({"CREDIT_CARD", "ES_NIE", "ES_NIF"}),
    "it": frozenset(
        {
            "CREDIT_CARD",
            "IT_DRIVER_LICENSE",
            "IT_FISCAL_CODE",
            "IT_IDENTITY_CARD",
            "IT_PASSPORT",
            "IT_VAT_CODE",
        }
    ),
    "pl": frozenset({"CREDIT_CARD", "PL_PESEL"}),
}
# What the spaCy NER passes on (after mapping its ADDRESS label), unless spacy_model: none.
NER_LABELS: frozenset[str] = frozenset(
    {"PERSON", "STREET_ADDRESS", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"}
)
# leakguard's own recognizers (pii.builtin_recognizers), in every language.
BUILTIN_LABELS: frozenset[str] = frozenset(
    {
        "CREDIT_CARD",
        "PERSON",
        "PHONE_NUMBER",
        "SECRET",
        "STREET_ADDRESS",
        "UK_NHS",
        "US_DRIVER_LICENSE",
    }
)


def producible_labels(pii: PIIConfig) -> frozenset[str]:
    """The labels some PII recognizer of this configuration can produce, before the
    ``entities`` filter: Presidio's for the language, the NER's, leakguard's own, the
    deny lists' and the custom recognizers'."""
    from leakguard.config import PATTERN_ONLY

    labels = set(PRESIDIO_ANY_LANGUAGE) | PRESIDIO_BY_LANGUAGE.get(pii.language, frozenset())
    if pii.spacy_model != PATTERN_ONLY:
        labels |= NER_LABELS
    if pii.builtin_recognizers:
        labels |= BUILTIN_LABELS
    labels.update(pii.deny_lists)
    labels.update(r.label for r in pii.recognizers)
    return frozenset(labels)


def label_error(label: str, *, where: str, known: Iterable[str]) -> str:
    """``unknown label 'US_SNN' in policy.actions; did you mean US_SSN? Known: ...``"""
    choices = sorted(set(known))
    close = difflib.get_close_matches(label, choices, n=1, cutoff=0.6)
    if not close:  # EMAIL for EMAIL_ADDRESS, SSN for US_SSN: a word of the label
        close = [c for c in choices if label in c.split("_") or c.startswith(label)][:1]
    hint = f"; did you mean {close[0]}?" if close else "."
    return f"unknown label {label!r} in {where}{hint} Known: {', '.join(choices)}"


def check_labels(config: LeakGuardConfig) -> None:
    """Every label the config names is one a configured detector produces: a misspelt
    label would silently do nothing (or, in pii.entities, fail every scan)."""
    pii = config.pii
    producible = producible_labels(pii)
    if "entities" in pii.model_fields_set:  # the defaults cover every recognizer set
        for label in pii.entities:
            if label not in producible:
                raise ValueError(label_error(label, where="pii.entities", known=producible))
    detected = set(pii.entities) & producible
    detected |= {config.memorization.label, config.memorization.boilerplate_label}
    named: list[tuple[str, Any]] = [
        ("pii.thresholds", pii.thresholds),
        ("policy.actions", config.policy.actions),
        ("policy.block_on_labels", config.policy.block_on_labels),
    ]
    for i, rule in enumerate(config.online.routes):
        for key in ("actions", "block_on_labels"):
            named.append((f"online.routes[{i}].policy.{key}", rule.policy.get(key, ())))
    for where, labels in named:
        for label in labels:
            if label in detected:
                continue
            if label in producible:
                raise ValueError(
                    f"label {label!r} in {where} is never detected: add it to pii.entities"
                )
            if label in pii.entities:
                raise ValueError(
                    f"label {label!r} in {where} is never detected: no configured recognizer "
                    "produces it (see pii.spacy_model, pii.builtin_recognizers, pii.language)"
                )
            raise ValueError(label_error(label, where=where, known=detected))
