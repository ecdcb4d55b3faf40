"""Generate ``dp_support_chats.jsonl``: synthetic support chats with fake PII and canaries.

Seeded and deterministic: ``python examples/make_dp_support_chats.py`` rewrites the same
file. Every name, e-mail, phone number and order number comes from Faker; nothing is real.
A few users also repeat a *canary*: a random, Luhn-valid card number after a sentence
naming them (``the card on file for NAME is``), marked ``"canary": true`` so that
``dp_finetune_tiny_lm.py`` can measure its exposure and prompt for it.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from faker import Faker

SEED = 7
USERS = 300
CHATS_PER_USER = (3, 7)
CANARY_USERS = 8
CANARY_REPEATS = 6
CANARY_PREFIX = "the card on file for {name} is "
CARD_DIGITS = 16
OUT = Path(__file__).with_name("dp_support_chats.jsonl")
# The control for `leakguard dp probe`: chats of the same kind (canary sentences once each)
# from other people, never trained on. `python examples/make_dp_support_chats.py --heldout`.
HELDOUT = Path(__file__).with_name("dp_support_chats_heldout.jsonl")

TEMPLATES = (
    "hi, this is {name}. my order {order} has not arrived yet.",
    "hello, {name} here. can you resend the invoice to {email}?",
    "please call me back at {phone}, it is about order {order}.",
    "i want to return order {order}. my email is {email}.",
    "my name is {name} and my package was damaged.",
    "can you change the delivery address for order {order}?",
    "thanks {name}, the refund for {order} arrived today.",
    "the tracking page for {order} shows no updates since monday.",
    "is there a discount for orders over fifty dollars?",
    "how long does shipping to {city} usually take?",
)


def luhn_card(rng: random.Random) -> str:
    """A 16-digit Visa-style number with a valid Luhn check digit."""
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        doubled = d * 2 if i % 2 == 0 else d
        total += doubled - 9 if doubled > 9 else doubled
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def main() -> None:
    if "--heldout" in sys.argv[1:]:
        write(seed=SEED + 1, users=100, repeats=1, out=HELDOUT)
    else:
        write(seed=SEED, users=USERS, repeats=CANARY_REPEATS, out=OUT)


def write(*, seed: int, users: int, repeats: int, out: Path) -> None:
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    records = []
    people = []
    for user in range(users):
        person = {"name": fake.first_name(), "email": fake.email(), "phone": fake.phone_number()}
        people.append(person)
        for _ in range(rng.randint(*CHATS_PER_USER)):
            text = rng.choice(TEMPLATES).format(
                order=f"A{rng.randrange(10**6):06d}", city=fake.city(), **person
            )
            records.append({"text": text, "user_id": f"u{user:04d}"})
    for user in range(CANARY_USERS):
        card = luhn_card(rng)
        prefix = CANARY_PREFIX.format(name=people[user]["name"])
        for _ in range(repeats):
            records.append({"text": prefix + card, "user_id": f"u{user:04d}", "canary": True})
    rng.shuffle(records)
    with out.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
