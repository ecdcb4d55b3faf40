"""Seeded assistant-style answers with PII, for benchmarks (Faker + our own templates)."""

from __future__ import annotations

import random

from faker import Faker

_PARAGRAPHS = (
    "Sure! I looked into the ticket you mentioned. {name} reported the issue on Tuesday and "
    "asked us to reply to {email}. ",
    "Here is a short summary of the call: the customer, {name}, can be reached at {phone} "
    "during business hours, and prefers e-mail for anything written. ",
    "The refund was issued to the card ending in the digits on file ({card}); it usually "
    "takes three to five business days to appear on the statement. ",
    "To configure the service, set the timeout to 30 seconds, enable retries with exponential "
    "backoff, and make sure the health check endpoint returns 200 before routing traffic. ",
    "In summary, the migration has three steps: export the data, transform it with the new "
    "schema, and import it during the maintenance window announced last week. ",
    "You can also forward the invoice to {email} or wire the amount to {iban}. ",
    "Let me know if you need anything else — I'm happy to help with the next steps. ",
)


def assistant_text(length: int, *, seed: int = 0) -> str:
    """An assistant-style answer of about ``length`` characters with PII sprinkled in."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out = ""
    while len(out) < length:
        out += rng.choice(_PARAGRAPHS).format(
            name=fake.name(),
            email=fake.email(),
            phone=fake.phone_number(),
            card=fake.credit_card_number(),
            iban=fake.iban(),
        )
    return out[:length]


def clean_text(length: int, *, seed: int = 0) -> str:
    """An assistant-style answer of about ``length`` characters without personal data: the
    templates above that have none, and Faker's sentences of ordinary English words."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    plain = [p for p in _PARAGRAPHS if "{" not in p]
    out, turn = "", 0
    while len(out) < length:
        out += fake.paragraph(nb_sentences=3) + " " if turn % 2 else rng.choice(plain)
        turn += 1
    return out[:length]
