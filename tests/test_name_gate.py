"""The PERSON gate and the lexicon name finder (leakguard.pii.name_gate)."""

from __future__ import annotations

import pytest

from leakguard.guard import Guard
from leakguard.pii.name_finder import lexicon_names
from leakguard.pii.name_gate import name_like


@pytest.mark.parametrize(
    "value",
    ["Simon McVittie", "Siobhán", "ravi shankar", "mr eric brown", "Jonas Berg", "Tomasz"],
)
def test_name_shaped_spans_pass_the_gate(value: str) -> None:
    assert name_like(value)


@pytest.mark.parametrize(
    "value",
    [
        "New Features",
        "Inspector",
        "PRESENTNOTIFY",
        "documentation updates",
        "Chrome DevTools",
        "PresentIdleNotify",
        "Finally",
        "backward compatibility",
    ],
)
def test_prose_terms_the_ner_tags_are_not_names(value: str) -> None:
    assert not name_like(value)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('"I will fix it," said Priya to Kwame.', ["Priya", "Kwame"]),
        ("Thanks to Jane Doe for the patch.", ["Jane Doe"]),
        ("Why is Tomasz so quiet today?", ["Tomasz"]),
        ("The Linux kernel schedules threads on available cores.", []),
        ("Install Visual Studio Code and open the folder.", []),
        ("Open the Network tab in Developer Tools.", []),
    ],
)
def test_lexicon_finds_names_with_evidence_and_leaves_prose(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("We need Dorotea's approval before Friday.", ["Dorotea"]),  # possessive 's
        ("Did Mateus ever get back to you?", ["Mateus"]),  # a question's verb before it
        ("Why did Henrike leave early?", ["Henrike"]),
        ("Meeting notes: Esperanza presented, Dmitri took notes.", ["Esperanza", "Dmitri"]),
        # one known name vouches for the other items of its list
        ("Reviewers: Ivo, Kalani, Bartholomew.", ["Ivo", "Kalani", "Bartholomew"]),
        (
            "Speakers: Brennan, Oyelaran and Ilse Vermeulen.",
            ["Brennan", "Oyelaran", "Ilse Vermeulen"],
        ),
        ("can you ask ingrid about the invoice", ["ingrid"]),  # chat in lower case
        ("we met ilse and piet at the conference", ["ilse", "piet"]),
        ("Sorry to hear that, Ravi. Could you resend it?", ["Ravi"]),  # vocative
        ("<user>Camila</user>", ["Camila"]),  # a markup or table cell
        ("| Camila | infra |", ["Camila"]),
        ("Shoutout to Eun-ji for the quick fix!", ["Eun-ji"]),  # hyphenated given name
        ("Use the built-in Read-only mode.", []),
        ("Install Python, Perl and Git.", []),  # a list of tools
        ("Build it against Cyrus SASL first.", []),  # a given name before an acronym
        ("Install Visual Studio Code, then ask the team.", []),
        ("Ask for help, then mark the issue as done.", []),  # lower case, no chat cue
    ],
)
def test_lexicon_finds_names_in_sentence_positions(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    "value", ["Mr. Abernathy", "Hyun-woo", "Seo-yeon Park", "Tevita Fifita", "Mark Twain", "LI WEI"]
)
def test_titles_hyphenated_and_unknown_names_pass_the_gate(value: str) -> None:
    assert name_like(value)


@pytest.mark.parametrize(
    "value",
    [
        "MS Crypto API",
        "Settings",
        "Notification Center",
        "API",
        "Crypto API",
        "Pune",
        "Copyright",
        "Job Control",  # an ordinary word that is also a name, beside an English word
        "Mac OS X",
        "BSD-ism",
    ],
)
def test_english_words_and_acronyms_unknown_to_the_lexicons_are_not_names(value: str) -> None:
    assert not name_like(value)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # family name first
        ("Kim Min-jun will chair the review.", ["Kim Min-jun"]),
        ("The prize went to Horváth Katalin last year.", ["Horváth Katalin"]),
        # a long title, a kinship word
        ("As Professor Ngozi Achebe put it, the data is clear.", ["Ngozi Achebe"]),
        ("Thandeka and her cousin Mpumelelo ran the stall.", ["Thandeka", "Mpumelelo"]),
        # action items: "AI: X to ...", "- X: verb"
        ("AI: Okonkwo to send the minutes.", ["Okonkwo"]),
        (
            "Actions:\n- Tanaka: book the room\n- Schmidt / Haddad: check costs",
            ["Tanaka", "Schmidt", "Haddad"],
        ),
        # a word no vocabulary knows, with a cue only a person takes
        ("Has anyone heard from Tshepiso since Monday?", ["Tshepiso"]),
        # names in capitals
        ("CONTACT: SVETLANA IVANOVA", ["SVETLANA IVANOVA"]),
        ("HAPPY BIRTHDAY, THANK YOU AMINA", ["AMINA"]),
        # lower-case chat: a lexicon given name that is no English word, or a cue
        ("gaurav can u check the logs", ["gaurav"]),
        ("yo tshepiso wya", ["tshepiso"]),
    ],
)
def test_lexicon_finds_names_in_more_forms(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    "text",
    [
        "Park Avenue is closed.",
        "- Fixed: crash on start\n- Added: a --quiet flag",
        "The bishop of the local diocese was there.",  # lower-case after a capital start
        "Professor Emeritus status is granted after ten years.",
        "We heard from Support yesterday.",
        "THANK YOU FOR YOUR ORDER",
    ],
)
def test_more_forms_leave_prose_alone(text: str) -> None:
    assert lexicon_names(text) == []


def test_the_other_half_of_a_pair_with_a_found_name() -> None:
    text = "Thanks Keahi and Makana for the help!"
    keahi = (text.index("Keahi"), text.index("Keahi") + 5)
    found = [text[a:b] for a, b in lexicon_names(text, known=[keahi])]
    assert "Makana" in found
    text = "Trains run between Paddington and Whitechapel."
    white = (text.index("Whitechapel"), len(text) - 1)
    assert lexicon_names(text, known=[white]) == []


@pytest.mark.parametrize("value", ["T. Nakashima", "Giorgi Beridze", "Nasrin Akter"])
def test_initials_places_and_endings_beside_an_unknown_word(value: str) -> None:
    assert name_like(value)


@pytest.mark.parametrize("value", ["Kyoto", "Balloon", "Admissions Office", "September"])
def test_wordnet_words_are_not_unknown(value: str) -> None:
    assert not name_like(value)


def test_a_name_before_its_own_address() -> None:
    text = "name,email\nTevita Fifita,tevita.fifita@example.org\nMele Kaho,mkaho@example.net"
    assert [text[a:b] for a, b in lexicon_names(text)] == ["Tevita Fifita", "Mele Kaho"]
    text = "Ask Release Engineering at releng@example.com."
    assert lexicon_names(text) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hi, I'm tomasz. My order is late.", ["tomasz"]),
        ("Reporter: jane phạm\nContact: 0410", ["jane phạm"]),
        ("Thanks, mate!", []),
        ("I'm sorry, that failed.", []),
        ("Name: string", []),
    ],
)
def test_lower_case_names_after_a_cue(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    ("value", "person"),
    [("Baker Street", False), ("Bond Street", False), ("Jane Park", True), ("Mark Hall", True)],
)
def test_places_named_after_people(value: str, person: bool) -> None:
    assert name_like(value) is person


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('{"name": "Tanja kuhar", "phone": "1"}', ["Tanja", "Tanja kuhar"]),
        ('{"customer": "Okonkwo"}', ["Okonkwo"]),
        ('name: "nginx"', []),
        ('name: "CI"', []),
        ('name: "Build Docker Image"', []),
        ('{"name": "my-service"}', []),
        ("Good morning tomasz, your table is ready.", ["tomasz"]),
        ("- **Patient:** iona hawthorn\n- **SSN:** 1", ["iona hawthorn"]),
        ("Ticket 7: WANG XIU-YING cannot log in.", ["WANG XIU-YING"]),
    ],
)
def test_names_under_name_keys_and_more_cues(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


def test_an_english_word_that_is_a_given_name_needs_a_persons_cue() -> None:
    from leakguard.pii.name_finder import cued_given_name

    text = "Thanks, Hope, she fixed it. Hope you are well."
    first = text.index("Hope")
    second = text.index("Hope", first + 1)
    assert cued_given_name(text, first, first + 4)
    assert not cued_given_name(text, second, second + 4)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("The ticket was filed by Priya yesterday.", ["Priya"]),
        ("Okafor will present the numbers.", ["Okafor"]),
        ("Dijkstra's algorithm finds shortest paths.", []),
        ("Use Huffman coding for the tables.", []),
    ],
)
def test_lone_names_the_lexicons_vouch_for(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # a name that is also an English word, a place or software needs a person's cue
        ("Price is not the main factor for our buyers.", []),
        ("Rose petals are scattered over the table.", []),
        ("Summer hours start in July.", []),
        ("Jenkins pipelines are defined in a `Jenkinsfile`.", []),
        ("We hire two extra staff from June.", []),
        # places, days and methods named after someone
        ("The store on King Street is closed on Sundays.", []),
        ("A Kalman Filter has two phases.", []),
        # ... and the cues that say a person is meant
        ("Hunter will take the early shift.", ["Hunter"]),
        ("Faith had no faith in it, so she rewrote it.", ["Faith"]),
        ("Hi team, Ignacio here. I'll be out Monday.", ["Ignacio"]),
        ("Sorry for the delay - Gurpreet was out sick.", ["Gurpreet"]),
        ("Meeting moved to 3pm. Inoue-san prefers Zoom.", ["Inoue"]),
        ("Estimado señor Echeverría, le escribo hoy.", ["Echeverría"]),
        ("Here is the contact:\nHaruto Sasaki, Procurement Lead", ["Haruto Sasaki"]),
    ],
)
def test_vocabulary_names_and_stronger_cues(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("09:14:22Z INFO user=Fatima Zahra El Idrissi action=login", "Fatima Zahra El Idrissi"),
        ("Parisa Ghorbani leads research at the institute.", "Parisa Ghorbani"),
        ("Can you please thank Precious Moyo for the cake?", "Precious Moyo"),
        ("Hugo is a static site generator. Run `hugo server` to preview it.", None),
    ],
)  # fmt: skip
def test_the_guard_on_log_fields_long_ner_spans_and_software(
    guard: Guard, text: str, person: str | None
) -> None:
    found = [text[f.start : f.end] for f in guard.scan(text).findings if f.label == "PERSON"]
    assert found == ([person] if person else [])


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Project Hermes status: the deploy failed.", []),
        ("Hugo Modules are great; run `hugo server` to see them.", []),
        ("Ask Priya to run `git log --author=priya` first.", ["Priya"]),
        ("Attendees: Okafor, Haddad\nApologies: Brennan", ["Okafor", "Haddad", "Brennan"]),
    ],
)
def test_codenames_software_and_apologies(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in lexicon_names(text)] == names
