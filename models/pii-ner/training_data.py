# ruff: noqa: E501
"""Seeded training data for the leakguard name/address NER (labels PERSON and ADDRESS).

Values come from :class:`leakguard.evaluation.devset.Values` over the *tune* locales only; the frames
below are this file's own and share no template with the dev set, so the dev set's held-out
split (other templates, other locales) measures how the model generalises.

Address spans are labelled one line at a time: a multi-line address becomes one ADDRESS
entity per line, so the model never needs an entity that crosses a line break (and learns
that a PERSON never does).

    python models/pii-ner/training_data.py OUT_DIR [--train 14000] [--dev 1500] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from positions import Names, Positions

from leakguard.evaluation.devset import TUNE_LOCALES, Values, render
from leakguard.evaluation.scoring import LabelledText, Span

# fmt: off
PERSON_FRAMES = (
    "{PERSON} will join the call tomorrow.", "Thanks {FIRST}!", "Dear {PERSON},", "Hi {FIRST},",
    "Regards,\n{PERSON}", "Best,\n{FIRST}", "Signed: {PERSON}", "Author: {PERSON}",
    "cc: {PERSON}, {PERSON}", "{PERSON} <{EMAIL}>", "From: {PERSON}", "To: {PERSON} <{EMAIL}>",
    "Name: {PERSON}", "Customer: {PERSON}", "Full name - {PERSON}", "Owner: {PERSON}",
    "| {PERSON} | {~company} | {~city} |", "| {PERSON} | {PHONE} |", "\"name\": \"{PERSON}\",",
    "\"first_name\": \"{FIRST}\", \"last_name\": \"{LAST}\"", "name={PERSON}",
    "According to {PERSON}, the release slipped again.", "{PERSON} and {PERSON} approved the budget.",
    "I spoke with {PERSON} from {~company} yesterday.", "Hello {FIRST} {LAST},", "Mr. {LAST} is waiting.",
    "Ms. {LAST} confirmed the booking.", "Prof. {PERSON} teaches the course.", "{LAST}, {FIRST}",
    "The patient, {PERSON}, was admitted on {~date}.", "Contact person: {PERSON}", "Reviewed by {PERSON} on {~date}.",
    "Photo by {PERSON}", "my name is {PERSON}", "i am {FIRST} and i need help", "This is {PERSON} from accounting.",
    "Please ask {FIRST} to call back.", "{PERSON} wrote: \"see you at {~hour}\"", "- Customer: {PERSON}",
    "* Assignee: {PERSON}", "1. {PERSON} - team lead", "Emergency contact: {PERSON} ({PHONE})",
    "The account holder {PERSON} requested a new card.", "Congratulations to {PERSON} on the promotion!",
    "{PERSON}'s flight lands at {~hour}.", "Booked by: {PERSON}", "Guest: {PERSON}, room 412",
    "Passenger {PERSON}, seat 14C", "{FIRST} said the package never arrived.", "NAME: {PERSON}",
    "Beneficiary: {PERSON}", "Sender: {PERSON}", "Thanks again,\n{PERSON}\n{~company}",
    "@{FIRST} can you review this?", "ok {FIRST}, done", "The lease is signed by {PERSON} and {PERSON}.",
)
ADDRESS_FRAMES = (
    "Address: {ADDRESS_1L}", "Ship to:\n{ADDRESS_ML}", "Billing address:\n{ADDRESS_ML}",
    "She lives at {ADDRESS_1L}.", "Our office is located at {ADDRESS_1L}.", "{PERSON}\n{ADDRESS_ML}",
    "Deliver to {ADDRESS_1L} before noon.", "Mailing address - {ADDRESS_1L}", "\"address\": \"{ADDRESS_1L}\"",
    "| {PERSON} | {ADDRESS_1L} |", "Return the form to\n{ADDRESS_ML}", "New address: {ADDRESS_1L}",
    "{ADDRESS_ML}", "Home: {ADDRESS_1L}", "moved to {ADDRESS_1L} last month",
)
NEGATIVE_FRAMES = (
    "{~city} is lovely in spring.", "Our team in {~city} starts at 9.", "{~company} reported strong growth.",
    "The meeting is on Monday at {~hour}.", "Version {~version} was released on {~date}.", "## Installation",
    "Step 1: Install Python and run the tests.", "Best regards,\nThe {~company} Team", "Customer Support",
    "We ship to {~country} and {~country}.", "The {~product} costs {~price}.", "Wall Street analysts expect a rally.",
    "Open Settings > Privacy > Location Services.", "Order {~order} shipped from {~city}.",
    "| Name | Email | Phone |\n|---|---|---|", "Thanks for reaching out!", "Let me know if you need anything else.",
    "Main Street and Park Avenue are closed for the parade.", "Use `git checkout {~short_sha}` to go back.",
    "The capital of {~country} is {~city}.", "Monday, Tuesday and Friday work for us.", "Happy New Year!",
    "In Python, use the `requests` library.", "Request id {~uuid} failed at {~timestamp}.", "Dear Customer,",
    "Kind regards,\nSupport Team", "The Amazon River flows through Brazil.", "Click Save Changes, then Done.",
    "Microsoft Word and Google Docs both support this.", "**Note:** {~company} Ltd. is based in {~city}.",
)
# A name (or, as a negative, another proper noun) between a lead and a tail: generic
# English contexts, so the model learns what names look like rather than where frames put them.
LEADS = (
    "Please send it to", "I met", "Ask", "The report was written by", "We hired", "Paid by",
    "Meeting with", "Assigned to", "It is on its way to", "Booked for", "Talk to", "According to",
    "Forwarded by", "Signed by", "Approved by", "Reviewed by", "Delivered to", "Invoice for",
    "Ticket opened by", "A message from", "Call", "Remind", "Invite", "I asked", "We thanked",
    "The doctor saw", "The manager is", "My colleague", "My neighbour", "Her husband",
    "His sister", "The tenant", "The driver", "Our client", "The applicant", "Transfer to",
    "Refund issued to", "Package for", "Hello", "Hi", "Good morning", "Welcome", "Congrats",
    "Tell", "Email", "Ping", "cc", "Owner:", "Contact:", "Patient:", "Guest:", "Employee:",
    "Name -", "Full name:", "The winner is", "Say hi to", "together with", "and",
)
TAILS = (
    ".", ",", "!", "?", " at {~hour}.", " tomorrow.", " today, please.", " and {PERSON}.",
    " ({EMAIL})", " on {PHONE}.", " about order {~order}.", " for the {~product}.", ", thanks!",
    " last week.", " in {~city}.", " from {~company}.", " before {~date}.", " yesterday.", "",
    " with card {CARD}.", " at {EMAIL}.", " - see ticket {~order}", " will call back.",
)
NON_NAMES = ("~company", "~city", "~country", "~product")
PRONOUNS = ("me", "us", "him", "her", "them", "you", "everyone", "the team", "support", "IT")
# Names as the subject of a sentence, and capitalised noun phrases in the same slot.
SUBJECTS = (
    "Login attempts", "Failed requests", "Support tickets", "Two users", "The server",
    "Our team", "Payment reminders", "Error reports", "Your request", "The API", "New orders",
    "Weekly Reports", "Most customers", "The Billing Service", "Customer Care", "Sales",
    "Both accounts", "The Helpdesk", "Several Guests", "Refund requests", "Status updates",
)
PREDICATES = (
    " called from {PHONE}.", " wrote from {EMAIL}.", " came from {IP}.", " cannot log in since {~date}.",
    " was charged {~price}.", " asked about order {~order}.", " moved to {~city}.", " requested a refund.",
    " is waiting in the lobby.", " has been approved.", " failed at {~hour}.", " were blocked.",
    " arrived late.", " needs a callback.", " will be updated on {~date}.", " reported a bug in {~version}.",
)
CLOSINGS = (
    "Sincerely,", "Yours sincerely,", "Yours faithfully,", "Yours truly,", "Warm regards,",
    "Best wishes,", "Many thanks,", "With thanks,", "Respectfully,", "Talk soon,", "Regards,",
)


def _lead_name_tail(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:  # subject position
        subject = rng.choice(("{PERSON}", "{PERSON}", "{FIRST}", rng.choice(SUBJECTS)))
        return subject + rng.choice(PREDICATES)
    if roll < 0.35:  # letter closing and signature
        return f"{rng.choice(CLOSINGS)}\n{{{rng.choice(('PERSON', 'PERSON', 'FIRST'))}}}"
    name = "{" + rng.choice(("PERSON", "PERSON", "PERSON", "FIRST", "LAST")) + "}"
    if rng.random() < 0.1:
        name = "{" + rng.choice(NON_NAMES) + "}"
    elif rng.random() < 0.1:
        name = rng.choice(PRONOUNS)
    return f"{rng.choice(LEADS)} {name}{rng.choice(TAILS)}"


OPENERS = (
    "Sure!", "Sure, here you go.", "Of course.", "Here is the summary:", "Here's what I found:",
    "Good question.", "Absolutely.", "Thanks for the details.", "Great, that works.", "Done.",
    "Remove it and rotate the key.", "Your commit touched three files.", "Note: this is a draft.",
    "Tip: run it twice.", "Please double-check the numbers.", "Make sure the service is running.",
    "If you need more, just ask.", "To fix it, restart the worker.", "Unfortunately, that failed.",
    "Here is the `.env` file:", "Our VPN gateway is down.", "Your order is on its way.",
    "Let me explain.", "In short: yes.", "Quick answer: no.", "Steps:", "Summary", "Details",
    "Warning: the token expired.", "Update: the build is green.", "FYI the meeting moved.",
    "Regards,", "Best regards,", "Kind regards,", "Cheers,", "Thanks!", "Hope this helps!",
    "Contact sheet:", "Customer record:", "Billing details:", "Ticket summary:", "Shipping info:",
)
FIELDS = (
    "Status", "Priority", "Trace id", "Request ID", "Build", "Version", "Region", "Plan", "Team",
    "Environment", "Host", "Port", "Timeout", "Retries", "Order", "Order ID", "Invoice", "Total",
    "Amount", "Currency", "Date", "Time", "Created", "Updated", "Logged at", "Affected host",
    "Product", "Quantity", "SKU", "Category", "Tags", "Severity", "Component", "Release", "Branch",
    "Commit", "Checksum", "Digest", "Image", "Pool", "Workers", "Cache", "Mode", "Level", "Type",
    "Subject", "Topic", "Language", "Country", "City", "Company", "Department", "Role", "Title",
)
FIELD_VALUES = (
    "~uuid", "~version", "~date", "~hour", "~price", "~count", "~order", "~short_sha", "~sha",
    "~timestamp", "~product", "~city", "~company", "~country", "~port", "~md5", "~isbn",
)
WORD_VALUES = (
    "Open", "Closed", "In progress", "High", "Low", "Medium", "Production", "Staging", "Enabled",
    "Disabled", "Pending", "Approved", "Rejected", "Critical", "Backend", "Frontend", "None",
    "Premium", "Free tier", "Europe West", "US East", "Weekly", "Monthly", "Yes", "No", "Unknown",
)
# fmt: on
_SEPARATORS = ("\n", " ", "\n\n", "\n- ", " ")


def _negative(values: Values, rng: random.Random) -> str:
    """A template with no name or address: prose, headings, field lines, code."""
    fake = values.fake() if rng.random() < 0.3 else values._us
    roll = rng.random()
    if roll < 0.2:
        return str(values._us.paragraph(nb_sentences=rng.randint(1, 3)))
    if roll < 0.3:
        return rng.choice(["## ", "### ", "**", ""]) + str(values._us.catch_phrase()).title()
    if roll < 0.45:
        return rng.choice(OPENERS)
    if roll < 0.8:
        field = rng.choice(FIELDS)
        value = (
            "{" + rng.choice(FIELD_VALUES) + "}" if rng.random() < 0.6 else rng.choice(WORD_VALUES)
        )
        shape = rng.choice(
            ["- {f}: {v}", "{F}: {v}", "| {f} | {v} |", "{k}={v}", '"{k}": "{v}",', "* **{f}:** {v}",
             "{n}. {f}: {v}", "{k}: {v}"]
        )  # fmt: skip
        key = field.lower().replace(" ", "_")
        return shape.format(f=field, F=field.upper(), k=key, v=value, n=rng.randint(1, 9))
    if roll < 0.9:
        return rng.choice(NEGATIVE_FRAMES)
    return (
        "```\n"
        + "\n".join(
            f"{rng.choice(FIELDS).upper().replace(' ', '_')}={{{rng.choice(FIELD_VALUES)}}}"
            for _ in range(rng.randint(1, 3))
        )
        + f"\n```\n{fake.sentence()}"
    )


def _per_line(item: LabelledText) -> LabelledText:
    """Keep PERSON spans; turn STREET_ADDRESS spans into one ADDRESS span per line."""
    spans: list[Span] = []
    for span in item.spans:
        if span.label == "PERSON":
            spans.append(span)
        elif span.label == "STREET_ADDRESS":
            offset = span.start
            for line in item.text[span.start : span.end].split("\n"):
                stripped = line.strip().rstrip(",")
                if stripped:
                    start = offset + line.index(stripped)
                    spans.append(Span(start, start + len(stripped), "ADDRESS"))
                offset += len(line) + 1
    return LabelledText(item.text, tuple(spans))


def _document(values: Values, rng: random.Random) -> LabelledText:
    frames = []
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.2:
            frames.append(rng.choice(PERSON_FRAMES))
        elif roll < 0.38:
            frames.append(_lead_name_tail(rng))
        elif roll < 0.5:
            frames.append(rng.choice(ADDRESS_FRAMES))
        else:
            frames.append(_negative(values, rng))
    template = frames[0]
    for frame in frames[1:]:
        template += rng.choice(_SEPARATORS) + frame
    item = _per_line(render(template, values))
    roll = rng.random()
    # Case changes that keep every offset ("ß".upper() is "SS": such texts stay as they are).
    cased = item.text.lower() if roll < 0.05 else item.text.upper() if roll < 0.08 else item.text
    return LabelledText(cased, item.spans) if len(cased) == len(item.text) else item


# "You can set it" -> "Priya can set it": a real sentence, a name in a real subject slot.
_YOU = re.compile(
    r"\b(?:[Yy]ou|[Tt]he user)(?= (?:can|should|must|may|will|might|could|would|need to|have to)\b)"
)


def _named(sentence: str, names: Names) -> LabelledText:
    """``sentence`` with "you" / "the user" before a modal verb replaced by names."""
    parts, spans, at, offset = [], [], 0, 0
    for match in _YOU.finditer(sentence):
        name = names.person("any")
        parts.append(sentence[at : match.start()])
        offset += match.start() - at
        spans.append(Span(offset, offset + len(name), "PERSON"))
        parts.append(name)
        offset += len(name)
        at = match.end()
    parts.append(sentence[at:])
    return LabelledText("".join(parts), tuple(spans))


@dataclass(frozen=True)
class RealText:
    """Real sentences (negatives), the capitalised terms in them, and silver lines."""

    sentences: list[str]
    terms: list[str]
    silver: list[LabelledText]


def real_text(*, sentences: int, silver: int) -> RealText:
    from real_sentences import sentences as real_sentences
    from real_sentences import silver_lines

    found = real_sentences(max_sentences=sentences)
    terms = sorted({m[0] for s in found for m in re.finditer(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b", s)})
    return RealText(found, terms, silver_lines(max_lines=silver))


def build(count: int, *, seed: int, real: RealText | None = None) -> list[LabelledText]:
    """``count`` documents: the record frames above (40%), names in sentence positions
    (``positions.py``, 32%), real sentences as negatives (18%), real sentences with names
    in a subject slot (5%) and silver changelog lines (5%). Without ``real``, only the
    first two kinds."""
    rng = random.Random(seed)
    values = Values(TUNE_LOCALES, seed=seed, romanized=("ja_JP",))
    names = Names(seed=seed)
    positions = Positions(names, seed=seed, terms=real.terms if real else [])
    out = []
    named = [s for s in real.sentences if _YOU.search(s)] if real else []
    for _ in range(count):
        roll = rng.random()
        if real is None:
            roll *= 0.72
        if roll < 0.40:
            out.append(_document(values, rng))
        elif roll < 0.72:
            out.append(positions.document())
        elif roll < 0.90:
            start = rng.randrange(len(real.sentences))  # type: ignore[union-attr]
            chosen = real.sentences[start : start + rng.randint(1, 3)]  # type: ignore[union-attr]
            out.append(LabelledText(rng.choice((" ", "\n")).join(chosen), ()))
        elif roll < 0.95 and named:
            out.append(_named(rng.choice(named), names))
        elif real is not None and real.silver:
            out.append(rng.choice(real.silver))
        else:
            out.append(positions.document())
    return out


def to_docbin(items: list[LabelledText], path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    bin_ = DocBin()
    for item in items:
        doc = nlp.make_doc(item.text)
        ents = []
        for span in item.spans:
            ent = doc.char_span(span.start, span.end, label=span.label, alignment_mode="expand")
            if ent is not None:
                ents.append(ent)
        doc.ents = spacy.util.filter_spans(ents)
        bin_.add(doc)
    bin_.to_disk(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--dev", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--real", type=int, default=40000, help="real sentences (0: none)")
    parser.add_argument("--silver", type=int, default=1500, help="silver changelog lines")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    real = real_text(sentences=args.real, silver=args.silver) if args.real else None
    # Model selection sees every tenth real sentence and silver line; training the rest.
    train_real = dev_real = real
    if real is not None:
        train_real = RealText(
            [s for i, s in enumerate(real.sentences) if i % 10],
            real.terms,
            [s for i, s in enumerate(real.silver) if i % 10],
        )
        dev_real = RealText(real.sentences[::10], real.terms, real.silver[::10])
    to_docbin(build(args.train, seed=args.seed, real=train_real), args.out / "train.spacy")
    to_docbin(build(args.dev, seed=args.seed + 1, real=dev_real), args.out / "dev.spacy")


if __name__ == "__main__":
    main()
