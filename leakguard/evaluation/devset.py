"""A seeded, labelled dev set of assistant-style answers (Faker values + our own templates).

Three splits that share no template and no Faker locale:

* ``tune`` — what detection rules and thresholds were tuned on (and the locales the shipped
  name/address NER saw in training, through other templates: see ``models/pii-ner``);
* ``heldout`` — other templates, other locales: the estimate of generalisation (its misses
  were looked at once, after which some generic rules and training frames were added);
* ``fresh`` — templates written last and never studied, ten more locales: the cleanest.

Each template is a text with placeholders. ``{PERSON}``-style placeholders (upper case) become
labelled spans; ``{~uuid}``-style placeholders (a tilde) become unlabelled near-miss values that
a good detector must leave alone (UUIDs, git SHAs, versions, dates, order numbers, ...).
The output is JSON Lines in the format :func:`leakguard.evaluation.scoring.load_dataset` reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from leakguard.checksums import mod97_valid
from leakguard.evaluation.scoring import LabelledText, Span

__all__ = [
    "FRESH_LOCALES",
    "HELDOUT_LOCALES",
    "SPLITS",
    "TUNE_LOCALES",
    "Values",
    "generate",
    "render",
    "write_jsonl",
]

Split = Literal["tune", "heldout", "fresh"]
SPLITS: tuple[Split, ...] = ("tune", "heldout", "fresh")

# Latin-script Faker locales. The NER under models/pii-ner trains on TUNE_LOCALES only.
TUNE_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL",
    "sv_SE", "tr_TR", "en_IN", "id_ID", "fi_FI", "da_DK", "cs_CZ", "yo_NG", "es_MX",
    "en_AU", "de_AT", "ro_RO", "vi_VN", "zu_ZA",
)  # fmt: skip
HELDOUT_LOCALES: tuple[str, ...] = (
    "hu_HU", "pt_PT", "de_CH", "fr_CH", "en_NZ", "es_AR", "es_CO", "es_CL", "nl_BE",
    "sk_SK", "hr_HR", "sl_SI", "tw_GH", "ha_NG", "ig_NG", "is_IS", "ga_IE", "no_NO",
    "en_IE", "fr_CA",
)  # fmt: skip
FRESH_LOCALES: tuple[str, ...] = (
    "lt_LT", "lv_LV", "et_EE", "az_AZ", "sw", "uz_UZ", "en_PK", "en_TH", "en_BD", "en_CA",
)  # fmt: skip
_LOCALES = {"tune": TUNE_LOCALES, "heldout": HELDOUT_LOCALES, "fresh": FRESH_LOCALES}
# Locales whose Faker writes names in another script: we use the romanized names.
_ROMANIZED = {"tune": ("ja_JP",), "heldout": ("zh_CN", "zh_TW"), "fresh": ()}
# Locales with US-style values (SSN, driver licences) whatever the split.
_US = "en_US"

_PLACEHOLDER = re.compile(r"(?<!\{)\{(~?[A-Za-z_0-9]+)\}")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One value to splice into a template: its text and its label (``None`` = unlabelled)."""

    text: str
    label: str | None
    # Sub-spans (relative offsets) to label instead of the whole text, e.g. only the
    # password inside a connection string.
    parts: tuple[tuple[int, int], ...] = ()


class _Draws:
    """Seeded draws over a set of Faker locales: what every kind of value is made of."""

    def __init__(self, locales: Sequence[str], *, seed: int, romanized: Sequence[str] = ()):
        from faker import Faker

        self.rng = random.Random(seed)
        self._fakers = [Faker(locale) for locale in locales]
        self._romanized = [Faker(locale) for locale in romanized]
        self._us = Faker(_US)
        for i, fake in enumerate([*self._fakers, *self._romanized, self._us]):
            fake.seed_instance(seed * 1009 + i)
            _stable_word_lists(fake)

    # -- helpers --------------------------------------------------------------------
    def fake(self) -> Any:
        return self.rng.choice(self._fakers)

    def _case(self, name: str) -> str:
        name = " ".join(name.split())  # some locales pad names with spaces
        roll = self.rng.random()
        if roll < 0.08:
            return name.lower()
        if roll < 0.16:
            return name.upper()
        return name

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def _alnum(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _moment(self) -> datetime:
        """A time between 1970 and 2030 (Faker's own dates depend on today's date)."""
        return datetime(1970, 1, 1) + timedelta(seconds=self.rng.randint(0, 60 * 365 * 86400))

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))


class _SecretDraws(_Draws):
    """Credentials in the formats the secret rules know."""

    # -- secrets ----------------------------------------------------------------------
    def secret(self, *, keyed: bool = True) -> Rendered:
        """A credential. ``keyed``: the template names it (``token=...``), so hex keys and
        plain passwords are fair; otherwise only self-evident token formats."""
        b64 = string.ascii_letters + string.digits + "+/"
        upper = string.ascii_uppercase + "234567"
        kind = self.rng.randrange(11 if keyed else 9)
        if kind == 0:
            return Rendered("AKIA" + self._alnum(16, upper), "SECRET")
        if kind == 1:
            return Rendered(self.rng.choice(["ghp_", "gho_", "ghs_"]) + self._alnum(36), "SECRET")
        if kind == 2:
            prefix = self.rng.choice(["xoxb", "xoxp"])
            body = f"{self._digits(12)}-{self._digits(13)}-{self._alnum(24)}"
            return Rendered(f"{prefix}-{body}", "SECRET")
        if kind == 3:
            return Rendered(self.rng.choice(["sk_live_", "rk_live_"]) + self._alnum(24), "SECRET")
        if kind == 4:
            return Rendered(
                "AIza" + self._alnum(35, string.ascii_letters + string.digits + "-_"), "SECRET"
            )
        if kind == 5:
            return Rendered(self._jwt(), "SECRET")
        if kind == 6:
            return Rendered(self._private_key(), "SECRET")
        if kind == 7:
            return Rendered(self.rng.choice(["sk-", "sk-proj-"]) + self._alnum(48), "SECRET")
        if kind == 8:
            return Rendered(self._alnum(40, b64), "SECRET")
        if kind == 9:
            return Rendered(hashlib.sha256(self._alnum(12).encode()).hexdigest()[:32], "SECRET")
        return Rendered(self.password(), "SECRET")

    def password(self) -> str:
        words = ["Summer", "Winter", "Tiger", "Blue", "Rocket", "Admin", "Secret", "Coffee"]
        return (
            self.rng.choice(words)
            + self._digits(self.rng.randint(2, 4))
            + self.rng.choice("!@#$%&*?")
            + self._alnum(self.rng.randint(2, 5))
        )

    def connection_string(self) -> Rendered:
        scheme = self.rng.choice(["postgres", "postgresql", "mysql", "mongodb", "redis", "amqp"])
        user = self.rng.choice(["admin", "app", "svc_report", "root", "deploy"])
        password = self._alnum(
            self.rng.randint(10, 20), string.ascii_letters + string.digits + "_-"
        )
        host = f"{self.rng.choice(['db', 'prod-db', 'cache', 'mq'])}.{self._us.domain_name()}"
        prefix = f"{scheme}://{user}:"
        text = f"{prefix}{password}@{host}:{self.rng.randint(1000, 9999)}/{self._us.word()}"
        return Rendered(text, "SECRET", parts=((len(prefix), len(prefix) + len(password)),))

    def _jwt(self) -> str:
        def seg(obj: dict[str, object]) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        header = seg({"alg": "HS256", "typ": "JWT"})
        payload = seg({"sub": self._digits(8), "iat": 1700000000 + self.rng.randint(0, 10**7)})
        return f"{header}.{payload}.{self._alnum(43, string.ascii_letters + string.digits + '-_')}"

    def _private_key(self) -> str:
        kind = self.rng.choice(
            ["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"]
        )
        b64 = string.ascii_letters + string.digits + "+/"
        body = "\n".join(self._alnum(64, b64) for _ in range(self.rng.randint(3, 6)))
        return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


class _NearMissDraws(_Draws):
    """Values that look like PII and are not (never labelled)."""

    # -- near misses (never labelled) ------------------------------------------------
    def near_miss(self, kind: str) -> str:
        makers: dict[str, Callable[[], str]] = {
            "uuid": lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "sha": lambda: self._hex(40),
            "short_sha": lambda: self._hex(self.rng.choice([7, 8, 12])),
            "sha256": lambda: self._hex(64),
            "md5": lambda: self._hex(32),
            "version": lambda: (
                self.rng.choice(["v", "", "version "])
                + ".".join(str(self.rng.randint(0, 20)) for _ in range(self.rng.choice([2, 3, 4])))
            ),
            "timestamp": lambda: (
                self._moment().isoformat(timespec=self.rng.choice(["seconds", "microseconds"]))
                + self.rng.choice(["", "Z", "+02:00"])
            ),
            "epoch": lambda: str(self.rng.randint(1_500_000_000, 1_800_000_000)),
            "date": lambda: self._moment().strftime(
                self.rng.choice(["%d/%m/%Y", "%Y-%m-%d", "%m-%d-%Y", "%d.%m.%Y"])
            ),
            "order": lambda: (
                self.rng.choice(["#", "ORD-", "A-", "", "INV-2024-"])
                + self._digits(self.rng.randint(5, 10))
            ),
            "tracking": lambda: (
                "1Z" + self._alnum(6, string.ascii_uppercase + string.digits) + self._digits(10)
            ),
            "price": lambda: (
                self.rng.choice(["$", "€", "£"])
                + f"{self.rng.randint(1, 99999):,}.{self._digits(2)}"
            ),
            "image": lambda: (
                "data:image/png;base64,iVBORw0KGgo"
                + self._alnum(80, string.ascii_letters + string.digits + "+/")
                + "=="
            ),
            "isbn": lambda: (
                f"978-{self.rng.randint(0, 9)}-{self._digits(3)}-{self._digits(5)}-"
                + str(self.rng.randint(0, 9))
            ),
            "port": lambda: str(self.rng.choice([80, 443, 5432, 6379, 8080, 8443, 9200])),
            "company": lambda: str(self.fake().company()),
            "city": lambda: str(self.fake().city()),
            "country": lambda: str(self.fake().country()),
            "product": lambda: self.rng.choice(
                [
                    "Pixel 8",
                    "ThinkPad X1",
                    "Galaxy S24",
                    "iPhone 15 Pro",
                    "Kindle Paperwhite",
                    "Surface Pro 9",
                ]
            ),
            "count": lambda: f"{self.rng.randint(2, 5000):,}",
            "hour": lambda: f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}",
        }
        return makers[kind]()


class Values(_SecretDraws, _NearMissDraws):
    """Seeded value factory over a set of Faker locales."""

    # -- people ---------------------------------------------------------------------
    def full_name(self) -> str:
        if self._romanized and self.rng.random() < 0.1:
            name = str(self.rng.choice(self._romanized).romanized_name())
        else:
            fake = self.fake()
            roll = self.rng.random()
            if roll < 0.6:
                name = str(fake.name())
            elif roll < 0.85:
                name = f"{fake.first_name()} {fake.last_name()}"
            else:
                name = f"{fake.first_name()} {fake.first_name()} {fake.last_name()}"
        return self._case(name)

    def first_name(self) -> str:
        return self._case(str(self.fake().first_name()))

    def last_name(self) -> str:
        return self._case(str(self.fake().last_name()))

    # -- places ---------------------------------------------------------------------
    def address(self, *, lines: Literal["multi", "single", "any"] = "any") -> str:
        fake = self.fake()
        text = str(fake.address()).strip()
        text = re.sub(r"[ \t]+\n", "\n", text)
        if self.rng.random() < 0.2 and "\n" in text:
            unit = self.rng.choice(
                ["Apt. {n}", "Apt {n}B", "Suite {n}", "Floor {f}", "Unit {n}", "Flat {n}"]
            ).format(n=self.rng.randint(1, 999), f=self.rng.randint(1, 40))
            first, rest = text.split("\n", 1)
            text = (
                f"{first}\n{unit}\n{rest}"
                if self.rng.random() < 0.5
                else f"{first}, {unit}\n{rest}"
            )
        if self.rng.random() < 0.2:
            text += "\n" + str(fake.current_country())
        multi = lines == "multi" or (lines == "any" and self.rng.random() < 0.6)
        return text if multi else re.sub(r",?\n", ", ", text)

    # -- numbers ----------------------------------------------------------------------
    def phone(self) -> str:
        roll = self.rng.random()
        if roll < 0.5:
            return str(self.fake().phone_number())
        import phonenumbers

        region = self.rng.choice(
            ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "AU", "JP", "MX", "PL",
             "SE", "CH", "NG", "ZA", "TR", "IE", "SG", "KE", "AR", "CA", "BE"]
        )  # fmt: skip
        kind = self.rng.choice(
            [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
        )
        example = phonenumbers.example_number_for_type(region, kind) or (
            phonenumbers.example_number(region)
        )
        assert example is not None, region  # every region listed has example numbers
        national = str(example.national_number)
        # Keep the leading digits (area / mobile prefix) and randomise the rest.
        keep = max(2, len(national) - 5)
        number = phonenumbers.parse(
            f"+{example.country_code}{national[:keep]}{self._digits(len(national) - keep)}"
        )
        style = self.rng.choice(
            [
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.E164,
            ]
        )
        text = str(phonenumbers.format_number(number, style))
        if self.rng.random() < 0.15:
            text = text.replace(" ", self.rng.choice([".", "-"]))
        if self.rng.random() < 0.05:
            text += f" ext. {self.rng.randint(10, 9999)}"
        return text

    def card(self) -> str:
        fake = self._us
        kind = self.rng.choice(["visa16", "mastercard", "amex", "discover", "visa16", "jcb16"])
        number = str(fake.credit_card_number(card_type=kind))
        sep = self.rng.choice([" ", "-", "", " "])
        if len(number) == 15:
            return sep.join([number[:4], number[4:10], number[10:]])
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))

    def iban(self) -> str:
        value = str(self.fake().iban())
        while not _valid_iban(value):  # Faker's fallback for some locales is not valid
            value = str(self.fake().iban())
        if self.rng.random() < 0.5:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ssn(self) -> str:
        value = str(self._us.ssn())
        return value.replace("-", " ") if self.rng.random() < 0.15 else value

    def email(self) -> str:
        fake = self.fake()
        if self.rng.random() < 0.5:
            return str(fake.email())
        first = re.sub(r"[^a-z]", "", str(fake.first_name()).lower()) or "info"
        last = re.sub(r"[^a-z]", "", str(fake.last_name()).lower()) or "mail"
        return f"{first}{self.rng.choice(['.', '_', ''])}{last}@{fake.free_email_domain()}"

    def ip(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return str(self._us.ipv4_public())
        if roll < 0.8:
            return str(self._us.ipv4_private())
        return str(self._us.ipv6())

    def driver_license(self) -> str:
        letters = string.ascii_uppercase
        # CA, NY, IL, WI, PA, FL, TX, MI-style shapes.
        shape = self.rng.choice(
            ["A#######", "### ### ###", "A###-####-####", "A###-####-####-##", "## ### ###",
             "A###-###-##-###-#", "########", "A ### ### ### ###", "#########"]
        )  # fmt: skip
        return "".join(
            self.rng.choice(letters)
            if c == "A"
            else self.rng.choice(string.digits)
            if c == "#"
            else c
            for c in shape
        )

    # -- dispatch ---------------------------------------------------------------------
    def value(self, name: str) -> Rendered:
        if name.startswith("~"):
            return Rendered(self.near_miss(name[1:]), None)
        makers: dict[str, Callable[[], Rendered]] = {
            "PERSON": lambda: Rendered(self.full_name(), "PERSON"),
            "FIRST": lambda: Rendered(self.first_name(), "PERSON"),
            "LAST": lambda: Rendered(self.last_name(), "PERSON"),
            "ADDRESS": lambda: Rendered(self.address(), "STREET_ADDRESS"),
            "ADDRESS_ML": lambda: Rendered(self.address(lines="multi"), "STREET_ADDRESS"),
            "ADDRESS_1L": lambda: Rendered(self.address(lines="single"), "STREET_ADDRESS"),
            "PHONE": lambda: Rendered(self.phone(), "PHONE_NUMBER"),
            "CARD": lambda: Rendered(self.card(), "CREDIT_CARD"),
            "IBAN": lambda: Rendered(self.iban(), "IBAN_CODE"),
            "SSN": lambda: Rendered(self.ssn(), "US_SSN"),
            "EMAIL": lambda: Rendered(self.email(), "EMAIL_ADDRESS"),
            "IP": lambda: Rendered(self.ip(), "IP_ADDRESS"),
            "DL": lambda: Rendered(self.driver_license(), "US_DRIVER_LICENSE"),
            "SECRET": self.secret,
            "TOKEN": lambda: self.secret(keyed=False),
            "PASSWORD": lambda: Rendered(self.password(), "SECRET"),
            "DSN": self.connection_string,
        }
        return makers[name]()


# ISO 13616 lengths of the countries our locales produce.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "BR": 29, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "TR": 26,
}  # fmt: skip


def _stable_word_lists(fake: Any) -> None:
    """Sort provider lists that Faker builds from a set (it_IT's ``cities``): their order, and
    so the values a seed picks, would change with Python's hash seed from run to run."""
    for provider in fake.get_providers():
        cities = getattr(provider, "cities", None)
        if isinstance(cities, list):
            provider.cities = sorted(cities)


def _valid_iban(value: str) -> bool:
    if _IBAN_LENGTHS.get(value[:2]) != len(value):
        return False
    return mod97_valid(value)


def render(template: str, values: Values) -> LabelledText:
    """Fill a template's placeholders; labelled values become spans with exact offsets."""
    out: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = _unescape(template[pos : match.start()])
        out.append(literal)
        length += len(literal)
        rendered = values.value(match.group(1))
        if rendered.label is not None:
            parts = rendered.parts or ((0, len(rendered.text)),)
            spans.extend(Span(length + a, length + b, rendered.label) for a, b in parts)
        out.append(rendered.text)
        length += len(rendered.text)
        pos = match.end()
    out.append(_unescape(template[pos:]))
    return LabelledText("".join(out), tuple(spans))


def _unescape(literal: str) -> str:
    """``{{`` and ``}}`` in a template are literal braces (as in ``str.format``)."""
    return literal.replace("{{", "{").replace("}}", "}")


def generate(split: Split, *, count: int, seed: int = 0) -> Iterator[LabelledText]:
    """``count`` labelled texts of one split, reproducible from ``seed``."""
    from leakguard.evaluation import templates as devset_templates

    templates = {
        "tune": devset_templates.TUNE,
        "heldout": devset_templates.HELDOUT,
        "fresh": devset_templates.FRESH,
    }[split]
    values = Values(_LOCALES[split], seed=seed, romanized=_ROMANIZED[split])
    for _ in range(count):
        yield render(values.rng.choice(templates), values)


def write_jsonl(items: Iterator[LabelledText] | Sequence[LabelledText], path: str | Path) -> int:
    """Write items as JSON Lines (``leakguard eval`` input); returns the number written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for item in items:
            spans = [{"start": s.start, "end": s.end, "label": s.label} for s in item.spans]
            handle.write(json.dumps({"text": item.text, "spans": spans}, ensure_ascii=False) + "\n")
            n += 1
    return n
