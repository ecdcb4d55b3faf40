# ruff: noqa: E501, RUF001
"""Names in many syntactic positions, for the NER's training data (issue 19, item 2).

The first generator (``training_data.py``'s frames) put names where records put them;
these frames put them where sentences and messages do: subject and object, questions,
vocatives, possessive ``'s``, lists of surnames, appositions, quotes, chat in lower case,
CSV/TSV rows, markdown tables, JSON/YAML/XML values, e-mail headers and git trailers. The
same slots also hold capitalised words that are *not* people (products, tools, places,
teams: :data:`THINGS`, plus capitalised terms from real sentences), so the model learns
the name, not the slot.

Names come from Faker's person providers over **all** its locales (:class:`Names`), so
the generated dev set's heldout and fresh locales are no longer unseen by the model.
"""

from __future__ import annotations

import random
import re
import unicodedata
import warnings

from leakguard.evaluation.scoring import LabelledText, Span

# fmt: off
VERB_PHRASES = (
    "said the build is green", "pushed the hotfix", "fixed the printer", "found the bug", "merged it",
    "reverted the change", "has the keys", "is out sick", "will cover for me", "gave a great talk",
    "joined last week", "left the company", "thinks we should wait", "asked for a raise",
    "approved the budget", "broke the build again", "wrote the first draft", "runs the bakery",
    "is on holiday until Monday", "booked the flights", "called twice", "owes me lunch",
    "took notes", "presented the results", "is the new contact", "signed the lease",
    "sent the invoice", "can help with that", "should know", "might be late", "was right",
    "agreed", "disagreed", "replied already", "is typing", "needs a laptop", "moved to Berlin",
    "lives next door", "teaches maths", "won the award", "cooked dinner", "organised the party",
    "opened the ticket", "closed the issue", "reviewed the patch", "rebased the branch",
    "deployed on Friday", "is in the meeting", "will be back at 3", "liked your post",
    "drove us home", "hates meetings", "loves the new design", "quit", "got promoted",
    "is pairing with me", "sent flowers", "lost the key", "forgot the password", "knows the answer",
)
QUESTIONS = (
    "Why is {P} so quiet today?", "Did {P} ever get back to you?", "Is {P} coming to the offsite?",
    "Has {P} seen this?", "Where is {P}?", "Can {P} take the call?", "What did {P} say?",
    "Does {P} know?", "Who told {P}?", "When does {P} land?", "Is this {P}'s laptop?",
    "Should we ask {P}?", "Was {P} at the meeting?", "How is {P} doing?", "Have you met {P}?",
)
OBJECT_LEADS = (
    "I told", "We met", "I owe", "Please ask", "Can you ask", "I spoke to", "We thanked", "Ping",
    "Remind", "Invite", "I called", "She married", "He works with", "They hired", "We promoted",
    "I saw", "The award went to", "The ticket was filed by", "Forwarding this from", "Say hi to",
    "I had lunch with", "The keys are with", "Send it to", "Shoutout to", "Kudos to", "Props to",
    "Give it to", "I'm waiting for", "Blame", "Ask", "Tell", "We lost", "Everyone loves",
    "Talk to", "I emailed", "It was", "Sit next to", "Follow", "Trust", "Listen to",
)
OBJECT_TAILS = (
    ".", " about it.", " tomorrow.", " lunch for this one.", " at the conference.", " yesterday.",
    " if the build is green.", " for the numbers.", " on Slack.", "!", " before Friday.",
    " and the team.", ", please.", " in legal.", " she could take Friday off.", " about the noise.",
)
LIST_LEADS = (
    "The founders", "Founders", "Authors", "Reviewers", "Speakers", "Attendees", "On the panel",
    "Present", "Absent", "Winners", "Maintainers", "Owners", "On call this week", "Invited",
    "Participants", "The committee", "Board members", "Judges", "Hosts", "Team", "Cast",
    "Signatories", "Thanks to", "Credits", "Players", "Nominees", "Mentors", "Volunteers",
)
ROLES = (
    "intern", "manager", "neighbour", "colleague", "lawyer", "doctor", "landlord", "coach",
    "team lead", "CTO", "accountant", "teacher", "cousin", "brother", "sister", "friend",
    "designer", "new hire", "contractor", "tech lead", "editor", "advisor", "tenant", "driver",
)
POSSESSED = (
    "laptop", "proposal", "sign-off", "flight", "car", "mother", "talk", "code", "review",
    "team", "account", "birthday", "idea", "desk", "office", "phone", "reply", "thesis", "dog",
)
QUOTES = (
    "I'll fix it tonight", "We can't ship this", "It works on my machine", "Let's wait",
    "That's not what I meant", "See you tomorrow", "Good catch", "I'm on it", "No way",
)
CHAT = (
    "lgtm", "+1", "on it", "brb", "thanks!", "can you check?", "done", "back in 5", "ok",
    "the migration is done, please verify", "who broke prod?", "ship it", "nice work",
)
KEYS = (
    "name", "owner", "assignee", "author", "user", "contact", "reviewer", "lead", "created_by",
    "display_name", "full_name", "speaker", "customer", "member", "updated_by", "requester",
)
COLUMNS = ("team", "role", "city", "status", "score", "email", "id", "start", "level", "office")
CELL_VALUES = ("infra", "data", "search", "billing", "frontend", "backend", "yes", "no", "active", "42", "L3", "remote")
# Capitalised words in the same slots that are no people.
THINGS = (
    "Python", "Docker", "Kubernetes", "GitHub", "Firefox", "Linux", "Debian", "Windows", "Jenkins",
    "Postgres", "Redis", "Slack", "Jira", "The server", "The API", "Chrome", "Ubuntu", "Rust",
    "Emacs", "Vim", "Apache", "Nginx", "Grafana", "Terraform", "Ansible", "Gmail", "Excel",
    "Marketing", "Finance", "Legal", "Support", "Sales", "Berlin", "Lagos", "Tokyo", "Toronto",
    "The printer", "Our CI", "The cluster", "Mozilla", "Google", "Amazon", "Microsoft", "Oracle",
    "Android", "iOS", "Bluetooth", "Wayland", "GNOME", "KDE", "Systemd", "Perl", "Java", "Go",
)
# fmt: on


class Names:
    """Given and family names from Faker's person providers, every locale; locales that
    write names in another script than Latin are drawn one time in ten."""

    def __init__(self, *, seed: int):
        import faker.config
        from faker import Faker

        self.rng = random.Random(seed)
        self.latin: list[tuple[list[str], list[str]]] = []
        self.other: list[tuple[list[str], list[str]]] = []
        for locale in sorted(faker.config.AVAILABLE_LOCALES):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                provider = Faker(locale).provider("faker.providers.person")
            given = _words(provider, ("first_names", "first_names_male", "first_names_female"))
            family = _words(provider, ("last_names",))
            if given and family:
                latin = sum(map(_latin, given)) > len(given) / 2
                (self.latin if latin else self.other).append((given, family))

    def person(self, kind: str) -> str:
        """A name: ``first``, ``last``, ``full`` or ``any``."""
        pool = self.other if self.rng.random() < 0.1 else self.latin
        given, family = self.rng.choice(pool)
        if kind == "any":
            kind = self.rng.choice(("first", "first", "full", "full", "last"))
        if kind == "first":
            return self.rng.choice(given)
        if kind == "last":
            return self.rng.choice(family)
        parts = [self.rng.choice(given)]
        if self.rng.random() < 0.1:
            parts.append(self.rng.choice(given))
        parts.append(self.rng.choice(family))
        return " ".join(parts)


def _words(provider: object, attrs: tuple[str, ...]) -> list[str]:
    out: set[str] = set()
    for attr in attrs:
        values = getattr(provider, attr, None) or ()
        for raw in values.keys() if isinstance(values, dict) else values:
            value = " ".join(str(raw).split())
            if value and not any(c.isdigit() for c in value):
                out.add(value)
    return sorted(out)


def _latin(name: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name)


_SLOT = re.compile(r"\{(P|F|L|N|E|f)\}")  # f: a first name in lower case


class Positions:
    """Seeded documents with names in the positions of the module docstring."""

    def __init__(self, names: Names, *, seed: int, terms: list[str]):
        self.names = names
        self.rng = random.Random(seed)
        self.terms = terms  # capitalised terms from real sentences: more "things"

    def _thing(self) -> str:
        if self.terms and self.rng.random() < 0.5:
            return self.rng.choice(self.terms)
        return self.rng.choice(THINGS)

    def _frame(self) -> str:
        r = self.rng
        roll = r.random()
        if roll < 0.14:
            return (
                "{P} "
                + r.choice(VERB_PHRASES)
                + r.choice((".", ".", "!", ", then {P} " + r.choice(VERB_PHRASES) + "."))
            )
        if roll < 0.22:
            return r.choice(QUESTIONS)
        if roll < 0.32:
            return r.choice(OBJECT_LEADS) + " {P}" + r.choice(OBJECT_TAILS)
        if roll < 0.40:
            n = r.randint(2, 4)
            items = [r.choice(("{L}", "{L}", "{N}", "{F}")) for _ in range(n)]
            return f"{r.choice(LIST_LEADS)}: " + ", ".join(items[:-1]) + f" and {items[-1]}."
        if roll < 0.47:
            owner = r.choice(("{P}", "{F}", "{N}"))
            return r.choice(
                (
                    f"{owner}'s {r.choice(POSSESSED)} is ready.",
                    f"We need {owner}'s {r.choice(POSSESSED)} before launch.",
                    f"I borrowed {owner}’s {r.choice(POSSESSED)}.",
                    f"{owner}'s {r.choice(POSSESSED)} {r.choice(VERB_PHRASES)}.",
                )
            )
        if roll < 0.53:
            role = r.choice(ROLES)
            return r.choice(
                (
                    f"Our {role} {{P}} {r.choice(VERB_PHRASES)}.",
                    f"{{N}}, our {role}, {r.choice(VERB_PHRASES)}.",
                    f"{{N}} ({role}) {r.choice(VERB_PHRASES)}.",
                    f"My {role}, {{F}}, {r.choice(VERB_PHRASES)}.",
                )
            )
        if roll < 0.59:
            q = r.choice(QUOTES)
            return r.choice(
                (
                    f'"{q}," said {{P}}.',
                    f'"{q}," {{P}} said.',
                    f'{{P}}: "{q}"',
                    f"> {{P}} wrote:\n> {q}",
                    f'"{q}," said {{P}} to {{P}}.',
                )
            )
        if roll < 0.66:
            lines = [
                f"{r.choice(('{F}', '{F}', '{N}', '@{F}'))}: {r.choice(CHAT)}"
                for _ in range(r.randint(1, 3))
            ]
            return "\n".join(lines)
        if roll < 0.71:
            return self._table()
        if roll < 0.76:
            key = r.choice(KEYS)
            return r.choice(
                (
                    f'{{"{key}": "{{N}}", "id": {r.randint(1, 999)}}}',
                    f"{key}: {{N}}",
                    f"<{key}>{{N}}</{key}>",
                    '<user name="{N}"/>',
                    f"  - {key}: {{P}}",
                    f'{key} = "{{N}}"',
                )
            )
        if roll < 0.81:
            return r.choice(
                (
                    "From: {N} <{E}>",
                    "Cc: {N}, {N}",
                    "Reply-To: {N} <{E}>",
                    "On Monday, {N} wrote:",
                    "Signed-off-by: {N} <{E}>",
                    "Co-authored-by: {N} <{E}>",
                    "Reported-by: {N}",
                    "  * Fix the crash on start-up. Thanks to {N}.",
                    "  [ {N} ]",
                    "Name ........ {N}",
                )
            )
        if roll < 0.88:  # the same slots with things, not people
            thing = self._thing()
            return r.choice(
                (
                    f"{thing} {r.choice(VERB_PHRASES[:20])}.",
                    f"Why is {thing} so slow?",
                    f"{r.choice(OBJECT_LEADS)} {thing}{r.choice(OBJECT_TAILS)}",
                    f"{r.choice(LIST_LEADS[:8])}: {self._thing()}, {self._thing()} and {thing}.",
                    f"{thing}'s {r.choice(POSSESSED)} is ready.",
                    f'"{r.choice(QUOTES)}," said the {r.choice(ROLES)}.',
                )
            )
        if roll < 0.94:  # chat in lower case
            return r.choice(
                (
                    "lol {F} broke prod again",
                    "can you ask {F} if it's green",
                    "ask {F} about it tomorrow",
                    "we met {F} and {F} at the conference",
                    "{F} says hi",
                    "tell {F} i said thanks",
                    "did {F} reply?",
                    "{F} and {F} are coming too",
                    "omg {F} got the job",
                )
            ).lower()  # {f}
        return "{P} and {P} " + r.choice(VERB_PHRASES) + "."

    def _table(self) -> str:
        r = self.rng
        cols = r.sample(COLUMNS, r.randint(1, 3))
        at = r.randint(0, len(cols))
        header = [*cols[:at], r.choice(("name", "Name", "owner", "Owner", "member")), *cols[at:]]
        rows = [
            [
                *(r.choice(CELL_VALUES) for _ in cols[:at]),
                "{N}",
                *(r.choice(CELL_VALUES) for _ in cols[at:]),
            ]
            for _ in range(r.randint(1, 3))
        ]
        style = r.random()
        if style < 0.4:
            return "\n".join(",".join(row) for row in [header, *rows])
        if style < 0.6:
            return "\n".join("\t".join(row) for row in [header, *rows])
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])

    def document(self) -> LabelledText:
        """One to three frames, names filled in, PERSON spans labelled."""
        template = "\n".join(self._frame() for _ in range(self.rng.randint(1, 3)))
        text, spans, at = [], [], 0
        offset = 0
        for match in _SLOT.finditer(template):
            text.append(template[at : match.start()])
            offset += match.start() - at
            kind = match[1]
            if kind == "E":
                value = self.names.person("first").lower() + "@example.org"
            elif kind == "f":
                value = self.names.person("first").lower()
            else:
                value = self.names.person(
                    {"P": "any", "F": "first", "L": "last", "N": "full"}[kind]
                )
            if kind != "E":
                spans.append(Span(offset, offset + len(value), "PERSON"))
            text.append(value)
            offset += len(value)
            at = match.end()
        text.append(template[at:])
        return LabelledText("".join(text), tuple(spans))
