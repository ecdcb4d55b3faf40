"""leakguard's own recognizers, on their own (no spaCy): exact spans, and near misses."""

from __future__ import annotations

import random

import pytest

from leakguard.pii.recognizers.address import LeakGuardAddressRecognizer
from leakguard.pii.recognizers.base import Recognizer, table_header
from leakguard.pii.recognizers.cards import LeakGuardCardRecognizer
from leakguard.pii.recognizers.licence import LeakGuardLicenceRecognizer
from leakguard.pii.recognizers.names import LeakGuardNameCueRecognizer
from leakguard.pii.recognizers.near_miss import is_near_miss
from leakguard.pii.recognizers.phone import LeakGuardPhoneRecognizer
from leakguard.pii.recognizers.secrets import LeakGuardSecretRecognizer, entropy, random_looking

THRESHOLD = 0.4


def found(recognizer: Recognizer, text: str) -> list[str]:
    """Values the recognizer reports at or above the default threshold, in text order."""
    results = recognizer.analyze(text, [recognizer.ENTITY])
    spans = sorted({(r.start, r.end) for r in results if r.score >= THRESHOLD})
    return [text[a:b] for a, b in spans]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Ship to:\n7631 Johnson Village Suite 690\nAdamsbury, OR 13900\n\nThanks",
         "7631 Johnson Village Suite 690\nAdamsbury, OR 13900"),
        ("Flat 7\nJones Light\nNorth Holly\nS6 7LJ", "Flat 7\nJones Light\nNorth Holly\nS6 7LJ"),
        ("Wesackstraße 26-83\n66907 Werdau", "Wesackstraße 26-83\n66907 Werdau"),
        ("8, avenue Manon Gillet\n97636 Sainte Antoinenec",
         "8, avenue Manon Gillet\n97636 Sainte Antoinenec"),
        ("She lives at Viale Parisi, 171 Appartamento 47, 44019, Montesanto (FE).",
         "Viale Parisi, 171 Appartamento 47, 44019, Montesanto (FE)"),
        ("Lindseysingel 6\n7170BM\n's-Heer Hendrikskinderen",
         "Lindseysingel 6\n7170BM\n's-Heer Hendrikskinderen"),
        ("Okrová 77\n731 70 Lázně Kynžvart", "Okrová 77\n731 70 Lázně Kynžvart"),
        ("Address: ulica Pułaskiego 144\n98-810 Łódź\nPoland",
         "ulica Pułaskiego 144\n98-810 Łódź\nPoland"),
        ("He lives at 37983 Sezgin Lane, Arslanview, IN 34715 and asked for a callback.",
         "37983 Sezgin Lane, Arslanview, IN 34715"),
        ("Recanto Gabrielly Viana, 81\nÁlvaro Camargos\n69074-391 Alves do Sul / AC",
         "Recanto Gabrielly Viana, 81\nÁlvaro Camargos\n69074-391 Alves do Sul / AC"),
        ("Deliver to 8 Heather Riverway, Michaelview, WA, 2261 today",
         "8 Heather Riverway, Michaelview, WA, 2261"),
        # a city and a UK postcode, then prose
        ("The oven at 9 Mill Lane, Bristol BS1 6QT will be serviced on Monday.",
         "9 Mill Lane, Bristol BS1 6QT"),
        ("Send it to P.O. Box 77, Springfield, IL 62704.", "P.O. Box 77, Springfield, IL 62704"),
        ("Postfach 10 20 30, 10115 Berlin", "Postfach 10 20 30, 10115 Berlin"),
        ("Shipping: Av. Arequipa 2450, Lince, Lima 15046", "Av. Arequipa 2450, Lince, Lima 15046"),
        # units and house names before the street, on its line
        ("My address is Flat 2, 31 Holloway, Leeds LS6 2AB.", "Flat 2, 31 Holloway, Leeds LS6 2AB"),
        ("Deliver to Ivy Cottage, Brook Lane, Upper Slaughter, Cheltenham GL54 2JB.",
         "Ivy Cottage, Brook Lane, Upper Slaughter, Cheltenham GL54 2JB"),
        ("Address: House No. 9, Airport Road, Kumasi", "House No. 9, Airport Road, Kumasi"),
        # no house number: a postcode must follow
        ("meet at Prince Sultan Rd, Al Rawdah, Jeddah 23433 tomorrow",
         "Prince Sultan Rd, Al Rawdah, Jeddah 23433"),
        # Ireland, Japan, Korea, India, Czechia, Turkey, Québec, Argentina, Mexico
        ("They rent 4 Baggot St Lower, Dublin 2, D02 Y754.",
         "4 Baggot St Lower, Dublin 2, D02 Y754"),
        ("2-7-1 Nishi-Shinjuku, Shinjuku-ku, Tokyo 163-0890 is the office.",
         "2-7-1 Nishi-Shinjuku, Shinjuku-ku, Tokyo 163-0890"),
        ("Ship to Apt 301, 12 Dosan-daero 45-gil, Gangnam-gu, Seoul 06018",
         "Apt 301, 12 Dosan-daero 45-gil, Gangnam-gu, Seoul 06018"),
        ("Send to Plot No. 12, Sector 21, Noida 201301 and call.",
         "Plot No. 12, Sector 21, Noida 201301"),
        ("Adresa: Karlovo náměstí 3, 120 00 Praha 2", "Karlovo náměstí 3, 120 00 Praha 2"),
        ("Adres: Bağdat Cad. No: 77, 34728 Beyoğlu/İstanbul",
         "Bağdat Cad. No: 77, 34728 Beyoğlu/İstanbul"),
        ("88 rue Sainte-Catherine Est, Montréal (Québec) H2X 1K6",
         "88 rue Sainte-Catherine Est, Montréal (Québec) H2X 1K6"),
        ("Av. Santa Fe 1200, 3° A, C1059ABN CABA", "Av. Santa Fe 1200, 3° A, C1059ABN CABA"),
        ("Calle Hidalgo 15, Int. 2\nCol. Centro, 44100 Guadalajara, Jal.",
         "Calle Hidalgo 15, Int. 2\nCol. Centro, 44100 Guadalajara, Jal."),
        # boxes and bags, rural routes
        ("Post: Private Bag 4010, Wellington 6140.", "Private Bag 4010, Wellington 6140"),
        ("RR 3, Box 42, Dayton, OH 45402", "RR 3, Box 42, Dayton, OH 45402"),
        ("Write to PMB 2010, Ikeja, Lagos please.", "PMB 2010, Ikeja, Lagos"),
        # a city and a numeric postcode, then prose
        ("It is at 14 Smith Street, Durban 4001 and opens at nine.",
         "14 Smith Street, Durban 4001"),
        ("Tehran Blvd 14, Haifa 3303112", "Tehran Blvd 14, Haifa 3303112"),
        ("〒100-0005 東京都千代田区丸の内1-9-1", "〒100-0005 東京都千代田区丸の内1-9-1"),
    ],
)  # fmt: skip
def test_street_addresses_are_found_with_all_their_lines(text: str, address: str) -> None:
    assert found(LeakGuardAddressRecognizer(), text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "Here are 3 Key Points to remember.",
        "We sold 5 Big Macs, Fries and more.",
        "Chapter 5, 2024 Edition is out.",
        "Main Street and Park Avenue are closed for the parade.",
        "Version 2.3 of the Way Forward plan ships in 2025.",
        "The AV Club 5 stars review is out.",
        "Locker box 12 is free; Apartado and Casilla are Spanish words.",
        "Open port 5432, then Route 53 and Section 4, Article 12 apply.",
        "Oxford Street, London is busy; Building 2, Room 5 of the campus is free.",
        "Use Autocad 2021 or Task 5 (Desk 3, Disk 2) and F-16, then V-2, 1944.",
    ],
)
def test_texts_without_addresses_stay_clean(text: str) -> None:
    assert found(LeakGuardAddressRecognizer(), text) == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call +1 415 555 0134 today", "+1 415 555 0134"),
        ("Tel. +49(0) 915000806", "+49(0) 915000806"),
        ("ring (0439)-150008 please", "(0439)-150008"),
        ("office 500-708-0636x08377", "500-708-0636x08377"),
        ("mobile: 765.575.2411", "765.575.2411"),
        ("+(370) 00080636 is the hotline", "+(370) 00080636"),
        ("call me at 05382244222", "05382244222"),
        ("Phone: 04062767842", "04062767842"),
        ("cz: 00420 601 743 915", "00420 601 743 915"),
        ("06 07 18 72 83 (France)", "06 07 18 72 83"),
        # a parenthesis around the whole number is no area code
        ("EMERGENCY CONTACT: M. SANTOS (+351 21 555 0166)", "+351 21 555 0166"),
        ("ring me (0161 496 0000) later", "0161 496 0000"),
    ],
)
def test_phone_numbers_of_many_regions_are_found(text: str, phone: str) -> None:
    assert found(LeakGuardPhoneRecognizer(), text) == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "Released on 2024-03-05 and 05/03/2024.",
        "Server 192.168.12.7 runs version 11.12.9.14.",
        "Order 0889957 shipped; epoch 1709641234.",
        "ISBN 978-3-16-148410-0, SSN-like 536-90-4512.",
        "Seasons 2019-2020 and 2023/2024.",
        "Card 4111 1111 1111 1111 on file.",
        "Timestamp 2016-10-01T00:51:51.239722Z",
        "Ticket #12345678 and ORD-11755416",
        "Total: 1,234,567 users",
    ],
)
def test_phone_near_misses_stay_clean(text: str) -> None:
    assert found(LeakGuardPhoneRecognizer(), text) == []


def test_an_international_number_does_not_swallow_the_next_numbers_digits() -> None:
    # Found by the streaming property test: the digit run "+1 415 555 0134 4111" (too long
    # for +1) lost to the card after it, and the second phone number went out unredacted.
    text = "+1 415 555 0134 +1 415 555 0134 4111 1111 1111 1111"
    spans = [(s, e) for s, e, *_ in LeakGuardPhoneRecognizer().find(text)]
    assert spans == [(0, 15), (16, 31)]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("AWS_ACCESS_KEY_ID=AKIA6CTZKKOAMOZWW5RA", "AKIA6CTZKKOAMOZWW5RA"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
         "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("slack: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
         "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("url: postgres://admin:S3cr3tPassw0rd@db.example.com:5432/app", "S3cr3tPassw0rd"),
        ("api_key = \"39a15900ca2a0a29e1f4a26050fe672a\"", "39a15900ca2a0a29e1f4a26050fe672a"),
        ("Your password was reset to Rocket687$uowZ.", "Rocket687$uowZ"),
        ("Authorization: Bearer "
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlX3NpZ25hdHVyZQ",
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlX3NpZ25hdHVyZQ"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
         "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"),
        ("leaked: q8Vx2LmR7tYp9KzW3nB6cJ4hF1gD5sA0eU", "q8Vx2LmR7tYp9KzW3nB6cJ4hF1gD5sA0eU"),
        ("password for ana@corp.io is Summer464*x9JvT (don't share it)", "Summer464*x9JvT"),
        ("* Stripe key: addedd96f31fabef2bfbdd5c280d9a61", "addedd96f31fabef2bfbdd5c280d9a61"),
    ],
)  # fmt: skip
def test_secrets_are_found(text: str, secret: str) -> None:
    assert found(LeakGuardSecretRecognizer(), text) == [secret]


@pytest.mark.parametrize(
    "text",
    [
        "request id dc2574bd-b940-47ed-be17-5330a11d459a",
        "commit 6d07ef7b77e90d3593ad699fc1f7cd5bb2e35cbf and short 3ad699fc",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "APP_VERSION=1.9.12.0 released at 2016-10-01T00:51:51Z",
        "logo: data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
        "password: <your password here>",
        "token: ${GITHUB_TOKEN}",
        "api_key = your_api_key",
        "secret: true",
        "key: my-service-name-here",
        "The primary key is user_id.",
        "Use ConfigurationManagerFactory to build it.",
    ],
)
def test_secret_near_misses_stay_clean(text: str) -> None:
    assert found(LeakGuardSecretRecognizer(), text) == []


def test_the_secret_length_gates_hold() -> None:
    """find() skips the vendor-token, bearer and random-string searches when no word of the
    text is long enough: each of those matches is a run of that many non-space characters
    at least."""
    from re import _parser  # type: ignore[attr-defined]

    from leakguard.pii.recognizers import secrets as module

    def shortest(pattern: str) -> int:
        return int(_parser.parse(pattern).getwidth()[0])

    for kind, _, pattern in module._TOKENS:
        if kind != "private_key":
            assert shortest(pattern.pattern) >= module._SHORTEST_TOKEN, kind
            assert "\\s" not in pattern.pattern, kind
            assert " " not in pattern.pattern, kind
    assert shortest(module._BEARER.pattern.split("\\s+", 1)[1]) >= 20
    assert shortest(module._CANDIDATE.pattern) >= 32
    # Each one found in a text whose longest word is just long enough.
    short = "AKIAIOSFODNN7EXAMPLF xoxb-123456789a Bearer abcdefghij0123456789"
    assert {kind for *_, kind in LeakGuardSecretRecognizer().find(short)} >= {
        "aws_access_key",
        "slack_token",
        "bearer",
    }


def test_secret_findings_say_which_rule_matched() -> None:
    results = LeakGuardSecretRecognizer().analyze("AKIA6CTZKKOAMOZWW5RA", ["SECRET"])
    assert [r.recognition_metadata["leakguard_kind"] for r in results] == ["aws_access_key"]


def test_random_tokens_have_high_entropy_but_hex_digests_do_not_count() -> None:
    assert entropy("aaaa") == 0.0
    assert random_looking("q8Vx2LmR7tYp9KzW3nB6cJ4hF1gD5sA0eU")
    assert not random_looking("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b")


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("Mastercard 2262-4822-3414-2825", "2262-4822-3414-2825"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("visa 4111111111111111", "4111111111111111"),
    ],
)
def test_cards_of_every_scheme_pass_issuer_and_luhn_checks(text: str, card: str) -> None:
    assert found(LeakGuardCardRecognizer(), text) == [card]


@pytest.mark.parametrize(
    "text", ["Order 4111 1111 1111 1112", "id 1234-5678-9012-3456", "0000 0000 0000 0000"]
)
def test_numbers_failing_card_checks_stay_clean(text: str) -> None:
    assert found(LeakGuardCardRecognizer(), text) == []


def test_grouped_licence_numbers_are_found_and_digit_groups_need_context() -> None:
    licence = LeakGuardLicenceRecognizer()
    assert found(licence, "DL A123-4567-8901 on file") == ["A123-4567-8901"]
    assert found(licence, "FL licence N834-598-31-493-1") == ["N834-598-31-493-1"]
    assert found(licence, "We counted 123 456 789 votes") == []


def test_the_licence_gate_holds_in_every_form() -> None:
    """Texts without three digits, a '-' or space and three digits skip the five
    searches: every form's match holds that (the forms, their separators changed at
    random, in random surroundings)."""
    from leakguard.pii.recognizers import licence as module

    rng = random.Random(11)
    shapes = ["L###-####-####", "L###-####-####-##", "L###-###-##-###-#", "L ### ### ### ###"]
    shapes += ["## ### ###", "# ### ###"]
    seen = 0
    for _ in range(3000):
        shape = rng.choice(shapes)
        value = "".join(
            rng.choice("ABNZ") if c == "L"
            else str(rng.randrange(10)) if c == "#"
            else rng.choice([c, c, c, "-", " ", "", "x"])
            for c in shape
        )  # fmt: skip
        text = rng.choice(["", "DL ", "a", "-"]) + value + rng.choice(["", ".", "1", " ok"])
        for _, pattern in module._FORMS:
            for m in pattern.finditer(text):
                seen += 1
                assert module._GROUPS.search(m.group()), (text, m.group())
    assert seen > 200


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("tracking 1ZEC76445829760688", "MEDICAL_LICENSE", True),
        ("license EC7644582 ok", "MEDICAL_LICENSE", False),
        ("after version 11.12.9.14", "IP_ADDRESS", True),
        ("host 11.12.9.14", "IP_ADDRESS", False),
    ],
)
def test_near_miss_rules(text: str, label: str, expected: bool) -> None:
    value = "EC7644582" if "EC7644582" in text else "11.12.9.14"
    start = text.index(value)
    assert is_near_miss(text, start, start + len(value), label) is expected


TABLE = "| Name | Phone |\n|---|---|\n| Nonso Ojukwu | 8342327627 |\n| Ana Ruiz | 12345678 |"


def test_table_cells_take_their_column_header_as_context() -> None:
    assert table_header(TABLE, TABLE.index("8342327627")) == " Phone "
    assert table_header(TABLE, TABLE.index("Ana")) == " Name "
    assert table_header("no table 8342327627", 9) is None
    assert found(LeakGuardPhoneRecognizer(), TABLE) == ["8342327627", "12345678"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Name: John Smith, age 42", ["John Smith"]),
        ("NAME: OLUWASANMI SOYINKA", ["OLUWASANMI SOYINKA"]),
        ("- **Patient:** Véronique Séguin\n- **SSN:** 1", ["Véronique Séguin"]),
        ("Dear Yuki Nakagawa,\nthanks", ["Yuki Nakagawa"]),
        ("Thank you, Jenő. I have noted it.", ["Jenő"]),
        ("Hi, I'm Charlotta. My SSN is private.", ["Charlotta"]),
        ("my name is ngozi okafor and i need help", ["ngozi okafor"]),
        ("Best regards,\nMarika Mäkelä\nAcme Oy", ["Marika Mäkelä"]),
        ("call me back, thanks! -- Dinçkol", ["Dinçkol"]),
        ("your appointment with Dr. Callens is confirmed", ["Callens"]),
        ("the account belongs to Christine Rapraz, ssn 1", ["Christine Rapraz"]),
        ("cc: Anna van der Berg", ["Anna van der Berg"]),
        ("Dear J. R. R. Tolkien,", ["J. R. R. Tolkien"]),
        ('{"customer": "Gustavo Otero Morcillo", "id": 4}', ["Gustavo Otero Morcillo"]),
        ("cc: Ana Ruiz <ana@corp.io>, Bo Li <bo@corp.io>", ["Ana Ruiz", "Bo Li"]),
    ],
)
def test_names_after_cues_are_found(text: str, names: list[str]) -> None:
    assert found(LeakGuardNameCueRecognizer(), text) == names


@pytest.mark.parametrize(
    "text",
    [
        "Dear Customer,",
        "To: All Staff",
        "Hello World!",
        "From: jane@example.com",
        "I am Sorry for the delay.",
        "| Name | Role |",
        "Contact: +1 415 555 0134",
        "Thank you for your order.",
    ],
)
def test_cues_followed_by_no_name_stay_clean(text: str) -> None:
    assert found(LeakGuardNameCueRecognizer(), text) == []
