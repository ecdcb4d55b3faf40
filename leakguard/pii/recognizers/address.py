# ruff: noqa: RUF001
"""Street addresses, one-line or multi-line, in the formats of many countries.

A *street line* anchors every address: a house number next to a street-type word, in the
order the country uses ("221B Baker Street", "8, avenue Manon Gillet", "Via Roma 10",
"Wesackstraße 26-83", "Mátraszéki utca 125."), or a name and number directly above a
postcode line ("Okrová 77" / "731 70 Lázně Kynžvart"). From there the span grows over what
follows on the same line (", Apt 4B, Springfield, IL 62704") and over the next lines while
they look like the rest of an address: unit, postcode and city, city with state and
postcode, a bare postcode, a country. A unit line just above ("Flat 7") joins too.

A street line alone scores below the default threshold when its street word is also an
everyday word ("3 Key Points"); a postcode line or segment, or a context word such as
"address" or "ship to", lifts it.
"""

from __future__ import annotations

import re

from leakguard.pii.recognizers.base import (
    Recognizer,
    StartGate,
    alternation,
    caseless_led,
    led_by,
    trie_branches,
)

_UP = "A-ZÀ-ÖØ-ÞĀ-Ž"  # upper-case letters incl. Latin Extended-A
_WORD = rf"[{_UP}][\w'’.-]*"

# Street words that rarely mean anything else after a house number.
_EN_STRONG = (
    "street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|terrace|terr"
    "|parkway|pkwy|highway|hwy|crescent|cres|close|place|pl|square|sq|circle|cir|alley"
    "|expressway|freeway|turnpike|causeway|mews|gardens|grove|row|wharf|quay|esplanade"
    "|centreway|stravenue|trafficway|throughway|motorway"
)
# Street words that are also everyday words: need a postcode or context.
_EN_WEAK = (
    "way|trail|walk|hill|hills|park|view|views|ridge|village|villages|meadow|meadows|spring"
    "|springs|plaza|loop|path|pike|point|points|run|pass|port|ports|crossing|heights|haven"
    "|harbor|harbour|island|isle|junction|key|keys|knoll|lake|lakes|landing|light|lights"
    "|lodge|manor|mill|mills|mission|mount|mountain|orchard|oval|passage|pine|pines|plain"
    "|plains|prairie|ranch|rapids|rest|river|route|shore|shores|summit|track|tunnel|union"
    "|valley|vista|well|wells|brook|brooks|burg|burgs|bypass|camp|canyon|cape|center"
    "|centre|cliff|cliffs|club|common|corner|corners|course|cove|coves|creek|crest|curve"
    "|dale|dam|divide|estate|estates|extension|fall|falls|ferry|field|fields|flat|flats"
    "|ford|fords|forest|forge|fork|forks|fort|garden|gateway|glen|green|greens|hollow"
    "|inlet|land|loaf|lock|locks|mall|neck|overpass|radial|ramp|rapid|shoal|shoals|skyway"
    "|spur|spurs|station|stream|trace|underpass|ville|wall|ways|parade|rise|chase|fold"
    "|gate|drove|side|end|bank|yard|broadway|ithafa|indlela|mall"
)
# Romance, Slavic, Turkish, Indonesian, ... : the street word comes first.
_PREFIX_TYPES = (
    "via|viale|vicolo|piazza|piazzale|corso|largo|strada|contrada|borgo|calle|carrera|cr"
    "|avenida|avda|av|paseo|plaza|camino|ronda|travesía|travesia|cuesta|rambla|carretera"
    "|callejón|pasaje|diagonal|alameda|rua|travessa|praça|praca|estrada|rodovia|ladeira"
    "|vila|viela|recanto|plac|ulica|ul|aleja|al|osiedle|os|rue|avenue|boulevard|bd"
    "|chemin|allée|allé|impasse|quai|route|place|cours|faubourg|bulevardul|bulevard|calea"
    "|soseaua|șoseaua|splaiul|aleea|intrarea|piața|piata|strada|str|náměstí|nám|třída"
    "|nábřeží|jalan|jl|gang|gg|đường|phố|ngõ|cesta|trg|put|obala|avinguda|carrer|rúa"
    "|praza|viaducto|periférico|circuito|privada|prolongación|cerrada|andador|retorno"
    "|eje vial|continuación|calzada|boulevard|bulevar|pasaje|sendero|vía|área|area|morro"
    "|vereda|trecho|conjunto|quadra|setor|residencial|núcleo|lagoa|loteamento|sítio|chácara"
    "|jardim|parque|stretto|vico|lungomare|salita|galleria|rotonda|contrada|frazione"
    "|cl|cll|cra|kr|dg|tv|transversal|ak|ac|ruta|camino|pasaje|heol|ffordd|stryd"
    "|boul|leoforos|odos|plateia"
)
# Germanic / Nordic / Dutch / Finnish / Hungarian / Turkish: the street word is a suffix,
# glued to the name ("Hauptstraße") or following it ("Mátraszéki utca").
_SUFFIX_TYPES = (
    "straße|strasse|str|weg|gasse|platz|allee|ring|damm|ufer|steig|pfad|chaussee|zeile"
    "|gracht|straat|laan|plein|singel|kade|dijk|hof|markt|steeg|dreef|park|vej|gade|allé"
    "|plads|torv|stræde|gatan|vägen|väg|torget|gränd|stig|backe|katu|tie|kuja|polku|kaari"
    "|raitti|tori|vegen|veien|gata|gate|plassen|stien|utca|út|tér|körút|köz|sor|sokak|baan"
    "|wal|pad|erf|dreef|hage|haven|trg|pot|nábrežie|námestie|sokağı"
    "|sokağı|caddesi|cadde|bulvarı|mahallesi|ulica|cesta|ulice|náměstí|třída|nábřeží"
    "|vegur|stígur|braut|prospekt|prospect|shosse|pereulok|naberezhnaya|ulitsa"
)
_WEAK_WORDS = frozenset(_EN_WEAK.split("|"))
_EN_TYPES = alternation(f"{_EN_STRONG}|{_EN_WEAK}")
_PREFIX_TRIE = alternation(_PREFIX_TYPES)
_SUFFIX_TRIE = alternation(_SUFFIX_TYPES)
_NUMBER = (
    r"\d{1,5}[A-Za-z]?(?:\s?[-/]\s?\d{1,5}[A-Za-z]?){0,2}(?:-[IVX]{1,4}(?![\w])|[ \t]?(?:bis|ter))?"
)
# Patterns begin with a character class rather than a lookbehind (see led_by):
# (?<![\w.,/-])\d, (?<![\w-])[A-Z...] and (?<![\w.,/-]){_NUMBER}.
_NUM_START = led_by(r"\d", r"[\w.,/-]")
_UP_START = led_by(f"[{_UP}]", r"[\w-]")
_LED_NUMBER = _NUM_START + r"\d{0,4}[A-Za-z]?(?:\s?[-/]\s?\d{1,5}[A-Za-z]?)?"

# Small words inside a street or place name ("Heol y Llan", "Rua da Prata").
_PARTICLES = "(?:y|yr|de|da|do|dos|das|del|della|di|la|le|les|los|las|el|al|bin|van|von)"
# A Japanese or Korean ward, city, town or district ("Kita-ku", "Songpa-gu", "Ginza 4-chome").
_WARDS = "(?:ku|shi|cho|chō|machi|mura|gun|ken|gu|dong|si|eup|myeon)"

# Korean road words, glued by a hyphen ("Olympic-ro", "35-gil", "Dosan-daero").
_KR_ROAD = "-(?:ro|gil|daero)"
# English street words a number may follow ("Rothschild Blvd 22,").
_TYPE_THEN_NUMBER = r"(?:Blvd|Boulevard|St|Street|Ave|Avenue|Rd|Road|Lane|Drive|Dr)\.?[ \t]"

_STREET_REGEXES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # 7631 Johnson Village / 221B Baker Street / 77 Kramer Centreway
    (
        "number_first",
        re.compile(
            rf"(?P<num>{_LED_NUMBER}),?[ \t]+"
            rf"(?:(?:{_WORD}|[a-zà-ÿ'’-]{{2,}}|\d{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,3}}?"
            rf"(?P<type>(?i:{_EN_TYPES}))\b\.?(?![\w'’-])"
        ),
    ),
    # 8, avenue Manon Gillet / 12 rue de la Paix (French, number first then type)
    (
        "number_type_first",
        re.compile(
            rf"{_NUM_START}\d{{0,4}}(?:\s?(?:bis|ter))?,?[ \t]+(?P<type>(?i:{_PREFIX_TRIE}))\.?"
            rf"[ \t]+(?:[\w'’-]+[ \t]?){{1,5}}"
        ),
    ),
    # Via Roma 10 / Calle Mayor 5 / Rua Augusta, 81 / ul. Długa 5 / Diagonal Viedma N° 978
    (
        "type_first",
        re.compile(
            rf"(?<![\w-])(?P<type>(?i:{_PREFIX_TRIE}))\.?[ \t]+(?:[\w'’.-]+[ \t]+){{0,5}}?"
            rf"[\w'’.-]+(?:(?<!\d),[ \t]*|[ \t]+)(?:(?:(?i:n|no|nr|n°|nº|núm|num)\.?|\#)[ \t]*)?"
            rf"(?:{_NUMBER}|(?i:s/n))(?![\w])"
        ),
    ),
    # 228 West Indawo, Paarl, 4255 (any name, but a postcode must follow)
    (
        "number_first_any",
        re.compile(rf"{_LED_NUMBER},?[ \t]+(?:[{_UP}][^\W\d_]*[ \t]?){{1,4}}(?=,)"),
    ),
    # Intrarea Eftimie, Gheorgheni, 187319 (no house number, but a postcode must follow)
    (
        "type_first_no_number",
        re.compile(
            rf"(?<![\w-])(?P<type>(?i:{_PREFIX_TRIE}))\.?"
            rf"(?:[ \t]+(?:[{_UP}][^\W\d_]*|{_PARTICLES})){{0,3}}[ \t]+[{_UP}][^\W\d_]*(?=,)"
        ),
    ),
    # PO Box 1203 / P.O. Box 77 / Postfach 10 20 30 / Apartado 45 / Caixa Postal 12
    (
        "po_box",
        re.compile(
            r"(?<![\w-])(?i:p\.?[ \t]?o\.?[ \t]?box|post[ \t]office[ \t]box|postfach"
            r"|apartado(?:[ \t]de[ \t]correos)?|caixa[ \t]postal|casilla|boîte[ \t]postale"
            r"|private[ \t]bag|locked[ \t]bag|private[ \t]mail[ \t]bag|gpo[ \t]box|p\.?m\.?b\.?"
            r"|rural[ \t]route|r\.?r\.?)"
            r"[ \t]+[A-Z]?\d{1,6}(?:[ \t]\d{2,3}){0,2}(?:-\d{5})?(?:,?[ \t]+(?i:box)[ \t]+\d{1,5})?"
            r"(?![\w.,]\d)"
        ),
    ),
    # Hauptstraße 5 / Lindseysingel 6 / Mátraszéki utca 125. / Çetin Sokak 12
    (
        "suffix",
        re.compile(
            rf"{_UP_START}[\w'’-]*?(?:[ \t][{_UP}][\w'’-]*)?"
            rf"(?:(?:[ \t]|(?<=[a-zà-ÿß]))(?P<type>(?i:{_SUFFIX_TRIE}))\.?"
            r"|[ \t](?i:cad|cd|sk|sok|blv|bulv)\.)"
            rf"[ \t]+(?:(?i:no|nr|n°|nº)\.?:?[ \t]*)?{_NUMBER}\.?(?![\w])"
        ),
    ),
    # 1-2-3 Umeda, Kita-ku (Japanese block and lot numbers, then the ward)
    (
        "jp_block",
        re.compile(
            rf"{_NUM_START}\d{{0,3}}-\d{{1,4}}(?:-\d{{1,4}})?,?[ \t]+[{_UP}][^\W\d_]*"
            rf"(?:-[{_UP}][^\W\d_]*)?(?:[ \t]\d{{1,2}}-?ch[oō]me)?"
            rf"(?=,[ \t]*[{_UP}][^\W\d_]*-{_WARDS}\b)"
        ),
    ),
    # 〒150-0002 東京都渋谷区渋谷2-21-1 / 北京市朝阳区建国路88号 (addresses in CJK script)
    (
        "cjk",
        re.compile(
            r"〒[ \t]?\d{3}-?\d{4}[ \t　]*[\u3005\u3040-\u30ff\u4e00-\u9fff]+"
            r"(?:[\d０-９]+(?:[-－ー丁目番地号の][\d０-９]*)*)?"
            r"(?:[ \t　]*[\u30a0-\u30ff\u4e00-\u9fff]+[\d０-９]*)?"
            r"|[\u4e00-\u9fff]{2,}[路街道巷弄][\d０-９]+号"
            r"|(?:[\uac00-\ud7a3]+[ \t]){0,4}[\uac00-\ud7a3]+[로길][ \t]?\d{1,4}(?:-\d{1,4})?"
            r"(?:,?[ \t]*\d{1,3}층)?"
        ),
    ),
    # 45 Olympic-ro 35-gil (Korean roads, romanised)
    (
        "kr_road",
        re.compile(
            rf"{_NUM_START}\d{{0,4}}(?:-\d{{1,4}})?[ \t]+[{_UP}][^\W\d_]*{_KR_ROAD}"
            r"(?:[ \t]\d{1,3}(?:beon)?-gil)?(?![\w-])"
        ),
    ),
    # Rothschild Blvd 22, (the number after an English street word: a comma follows)
    (
        "type_then_number",
        re.compile(
            rf"{_UP_START}[^\W\d_]*(?:[ \t][{_UP}][^\W\d_]*){{0,2}}[ \t]{_TYPE_THEN_NUMBER}"
            r"\d{1,4}[A-Za-z]?(?=,)"
        ),
    ),
    # Plot 44, / House No. 7, / B-12, (Indian and Gulf plots: a postcode must follow)
    (
        "unit_first",
        re.compile(
            caseless_led(trie_branches("plot|house|flat|door|shop|block|villa"), r"[\w-]")
            + r"\.?[ \t]*(?:(?i:no)\.?[ \t]*)?(?=[\w/-]*\d)[\w/-]{1,8}(?=,)"
        ),
    ),
    (
        "unit_code",
        re.compile(led_by("[A-Z]", r"[\w-]") + r"[A-Z]?-\d{1,4}[A-Z]?(?=,)"),
    ),
)
# What a text must hold for a rare form to be tried at all (a search that skips through
# the text in C): a ward or road suffix, CJK script, a box word, an English street word
# and a number.
_FORM_NEEDS = {
    "jp_block": re.compile(rf"-{_WARDS}\b"),
    "kr_road": re.compile(rf"{_KR_ROAD}\b"),
    "unit_code": re.compile(r"-\d"),
    "cjk": re.compile(r"[〒\u4e00-\u9fff\uac00-\ud7a3]"),
    "po_box": re.compile(
        caseless_led(
            trie_branches(
                "box|bag|postfach|apartado|caixa|casilla|postale|route|pmb|p.m.b|r.r.|rr |rr\t"
            )
        )
    ),
    "type_then_number": re.compile(rf"{_TYPE_THEN_NUMBER}\d"),
}
# Where the type-first forms can begin: a street word (then '.', space or tab) that is not
# glued to a word or hyphen before it.
_TYPE_FIRST_STARTS = rf"[^\w-](?={caseless_led(trie_branches(_PREFIX_TYPES))}\.?[ \t])"
# Where the number-first forms can begin: at a number's first digit (not glued to a word,
# '.', ',', '/' or '-' before it), then what each form allows up to its spaces, then the
# first character of a word (a letter, or another character a word's first class takes).
_NUMBER_FIRST_STARTS = (
    rf"{_NUM_START}(?=(?:\d{{0,4}}[A-Za-z]?(?:\s?[-/]\s?\d{{1,5}}[A-Za-z]?)?"
    r"|\d{0,4}(?:\s?(?:bis|ter))?),?[ \t]+(?:[^\W\d_]|['’÷-]|\d{1,3}(?:st|nd|rd|th)))"
)
_GATES = {  # (starts, lead)
    "number_first": (_NUMBER_FIRST_STARTS, 0),
    "number_type_first": (_NUMBER_FIRST_STARTS, 0),
    "number_first_any": (_NUMBER_FIRST_STARTS, 0),
    "type_first": (_TYPE_FIRST_STARTS, 1),
    "type_first_no_number": (_TYPE_FIRST_STARTS, 1),
}
_STREET_FORMS: tuple[tuple[str, re.Pattern[str] | StartGate], ...] = tuple(
    (kind, StartGate(pattern, *_GATES[kind]) if kind in _GATES else pattern)
    for kind, pattern in _STREET_REGEXES
)
# "Jones Light" (en-GB style, no number): a street line only above a postcode.
_NAMED_STREET = re.compile(rf"^(?:[{_UP}][^\W\d_]*[ \t]){{1,3}}(?i:{_EN_TYPES})\.?$", re.MULTILINE)
# A name and number (either order) alone on a line: a street only above a postcode line.
_BARE_STREET = StartGate(
    re.compile(
        rf"(?:^|(?<=:[ \t])|(?<=:\*\*[ \t]))"
        rf"(?:(?:[{_UP}][\w'’.-]*[ \t]){{1,4}}{_NUMBER}"
        rf"|{_NUMBER},?(?:[ \t][{_UP}][\w'’.-]*){{1,4}})$",
        re.MULTILINE,
    ),
    r"[\n \t](?:(?<=\n)|(?<=:[ \t])|(?<=:\*\*[ \t]))",  # a line start, or after ": " or ":** "
)
# What a street never holds: a dotted number ("route 0.0.0.0/0", "via 192.168.1.1"), a
# letter glued to '#' and digits ("via PKCS#11", "C#10"; "Calle 45 #12-34" is a street), a
# lower-case word glued to digits ("via eth0", "ppc64").
_NOT_STREET = re.compile(r"\d\.\d+\.\d|[^\W\d_]#\d|\b[a-z]{2,}\d+\b")
# "route" opens a French street only before "de" ("route de Lyon 12"; not "Route 53").
_FRENCH_ROUTE = re.compile(r"[ \t]+(?:de|du|des|d['’])", re.IGNORECASE)
# Street forms that count only when a postcode follows.
_NEEDS_POSTCODE = (
    "number_first_any",
    "type_first_no_number",
    "unit_first",
    "unit_code",
    "named_inline",
)

_UNIT_WORD = (
    r"(?:apt|apartment|apartamento|of|ofic|suite|ste|unit|flat|floor|fl|bldg|building|room|rm|dept|piso|puerta"
    r"|dpto|depto|ap|apto|appartamento|app|interno|int|scala|sc|bl|piano|étage|bâtiment"
    r"|wohnung|whg|c/o|po box|p\.o\. box|box|local|bodega|oficina|casa|lote|torre|bloco"
    r"|andar|sala|lt|edif|edificio|esc|escalera|planta|pta|dto|kat|daire|blok|m|kv|d|bte|bus|villa"
    r"|\d{1,3}(?:st|nd|rd|th) floor)"
)
# "Apt. 4B", "Bl. 94  Sc. 85 Ap. 646": one or more units.
_UNIT = re.compile(rf"(?i)^(?:{_UNIT_WORD}\b\.?[ \t]*[\w#/-]{{0,8}}(?:[ \t]+|$)){{1,4}}$")
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
_NL_POSTCODE = r"\d{4}[ \t]?[A-Z]{2}"
_AR_POSTCODE = r"[A-Z]\d{4}[A-Z]{3}"  # Argentina's CPA: C1045AAB
_NUMERIC_POSTCODE = r"(?:[A-Z]{1,2}-)?(?:\d{2}-\d{3}|\d{5}-\d{3}|\d{7,8}|\d{3,6}(?:[ \t-]\d{2,4})?)"
# An Irish Eircode: a routing key, a space and four characters ("D04 X7Y2", "D6W 1234").
_IE_POSTCODE = r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)[ \t][\dAC-FHKNPRTV-Y]{4}"
_ANY_POSTCODE = (
    rf"(?:{_UK_POSTCODE}|{_CA_POSTCODE}|{_IE_POSTCODE}|{_NL_POSTCODE}|{_AR_POSTCODE}"
    rf"|{_NUMERIC_POSTCODE})"
)
# A city's district number: "Praha 1", "Dublin 4", "Lekki Phase 1", "Sector 17".
_DISTRICT = r"(?:[ \t]\d{1,2}[A-Z]?)?"
# A place name: capitalised words, with the small words place names contain.
_PLACE = (
    rf"[{_UP}'’][^\W\d_]*[.'’-]?(?:[ \t-]+(?:[{_UP}][^\W\d_'’-]*(?:['’-][^\W\d_]+)?\.?"
    rf"|\((?:[A-Z]{{2,3}}|[{_UP}][^\W\d_]+)\)|de|da|do|dos|das|del|della|di|la|le|les|los|las|el"
    rf"|an|der|am|im|sur|sul|upon|on|en|y|i|pri|van|von|bei|nad|pod|{_WARDS})){{0,4}}"
)
_POSTCODE_LINE = re.compile(
    "|".join(
        (
            # 10115 Berlin / H-1669 Budapest / 5066-907 Costa da Caparica / 44019, Montesanto (FE)
            # / 110 00 Praha 1 / 34430 Beyoğlu/İstanbul / Col. Centro, 68000 Oaxaca, Oax.
            rf"^(?:{_PLACE},[ \t]*)?{_NUMERIC_POSTCODE},?[ \t]+{_PLACE}{_DISTRICT}"
            rf"(?:[ \t]*/[ \t]*{_PLACE})?(?:,[ \t]*{_PLACE})?$",
            # Adamsbury, OR 13900 / Johnsonfurt, VIC, 7074 / Tarragona, 30188 / Bhopal 690743
            rf"^{_PLACE}(?:,[ \t]*{_PLACE})?,?[ \t]+(?:[A-Z]{{2,3}},?[ \t]+)?{_ANY_POSTCODE}$",
            # 1015 CJ Amsterdam / TK 907 43 Polygyros / C1045AAB CABA
            rf"^(?:{_UK_POSTCODE}|{_CA_POSTCODE}|{_NL_POSTCODE}|{_AR_POSTCODE})[ \t]+{_PLACE}$",
            # Region lines after a postcode: "Bahía Blanca 8000, Buenos Aires"
            rf"^{_PLACE}[ \t]+\d{{4,6}},[ \t]*{_PLACE}$",
            # Ahmednagar-508531
            rf"^{_PLACE}[ \t]*-[ \t]*\d{{5,6}}$",
        )
    )
)
# S6 7LJ / 7170BM / 75002: a postcode on its own line (a city line may follow it).
_POSTCODE_ONLY = re.compile(rf"^{_ANY_POSTCODE}$")
# A postcode (with state code or city) opening a segment: "IN 34715 and ...", "44843 Kihniö".
_POSTCODE_PREFIX = re.compile(
    rf"(?:[A-Z]{{2,3}},?[ \t]+)?(?:{_UK_POSTCODE}|{_CA_POSTCODE}"
    rf"|(?!(?:19|20)\d\d(?!\d)){_NUMERIC_POSTCODE})\b"
    rf"(?:[ \t]+{_PLACE})?"
)
# A city and a postcode of a distinctive shape (UK, Canadian, Irish, US state and ZIP,
# Japanese, Brazilian), with prose after them: "Bristol BS1 6QT will be", "Springfield, IL
# 62704 and", "Osaka 530-0001 is".
_CITY_POSTCODE_PREFIX = re.compile(
    rf"{_PLACE},?[ \t]+(?:{_UK_POSTCODE}|{_CA_POSTCODE}|{_IE_POSTCODE}"
    r"|[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?|\d{3}-\d{4}|\d{5}-\d{3})\b"
)
# A city and a numeric postcode with prose after them ("Durban 4001 and", "Mumbai 400703
# and"): four to six digits, not a year.
_CITY_NUMERIC_PREFIX = re.compile(
    rf"{_PLACE},?[ \t]+(?!(?:19|20)\d\d(?!\d))\d{{4,7}}(?![\w.,/-])(?=[ \t]+[a-z])"
)
# After a city, another one with prose after it ("PMB 1142, Ikeja, Lagos while she's").
_CITY_BEFORE_PROSE = re.compile(rf"{_PLACE}(?=[ \t]+[a-z])")
# Where a segment ends: a comma, a table cell's '|', a sentence's end (a full stop after a
# short word is an abbreviation's: "int. 7", "Col. Centro", "2. th.").
_SEGMENT_END = re.compile(
    r",|[ \t]\|(?=[ \t])|(?:(?<=[^\W\d_]{4})|(?<=\d{3}))\.(?=\s)|(?<=[\w)])[;!?](?=\s)"
)
# "Na Nivách 95, 178 55 Třebenice": a name and number, then a postcode and city.
_BARE_WITH_POSTCODE = re.compile(
    rf"{_UP_START}[^\W\d_]*[ \t](?:[{_UP}][^\W\d_]*[ \t]){{0,3}}{_NUMBER},[ \t]*{_NUMERIC_POSTCODE}"
    rf"[ \t]+{_PLACE}{_DISTRICT}"
)
# Postcodes in groups ("546 23", "00-514", "1100-053"), which a chapter or year is not.
_GROUPED_POSTCODE = re.compile(r",[ \t]*(?:\d{3}[ \t]\d{2}|\d{2}-\d{3}|\d{4}-\d{3})[ \t]")
_CITY_LINE = re.compile(rf"^{_PLACE}(?:,[ \t]*{_PLACE})?$")
_COUNTRIES = frozenset(
    c.casefold()
    for c in [
        "United States",
        "USA",
        "U.S.A.",
        "United Kingdom",
        "UK",
        "England",
        "Scotland",
        "Wales",
        "Ireland",
        "Germany",
        "Deutschland",
        "France",
        "Spain",
        "España",
        "Italy",
        "Italia",
        "Netherlands",
        "Nederland",
        "The Netherlands",
        "Belgium",
        "België",
        "Belgique",
        "Portugal",
        "Brazil",
        "Brasil",
        "Poland",
        "Polska",
        "Sweden",
        "Sverige",
        "Norway",
        "Norge",
        "Denmark",
        "Danmark",
        "Finland",
        "Suomi",
        "Austria",
        "Österreich",
        "Switzerland",
        "Schweiz",
        "Suisse",
        "Svizzera",
        "Czech Republic",
        "Czechia",
        "Česko",
        "Slovakia",
        "Slovensko",
        "Hungary",
        "Magyarország",
        "Romania",
        "România",
        "Turkey",
        "Türkiye",
        "Greece",
        "India",
        "Indonesia",
        "Vietnam",
        "Viet Nam",
        "Japan",
        "China",
        "Canada",
        "Mexico",
        "México",
        "Argentina",
        "Chile",
        "Colombia",
        "Peru",
        "Australia",
        "New Zealand",
        "Nigeria",
        "Ghana",
        "Kenya",
        "South Africa",
        "Egypt",
        "Morocco",
        "Israel",
        "Croatia",
        "Hrvatska",
        "Slovenia",
        "Slovenija",
        "Serbia",
        "Bulgaria",
        "Ukraine",
        "Iceland",
        "Ísland",
        "Estonia",
        "Latvia",
        "Lithuania",
        "Luxembourg",
        "Singapore",
        "Philippines",
        "Malaysia",
        "Thailand",
        "South Korea",
        "Korea",
        "Pakistan",
        "Bangladesh",
    ]
)
# Comma-separated segments after a street on the same line.
_SEGMENT_OK = (_UNIT, _POSTCODE_LINE)
_SEGMENT_CITY = re.compile(rf"^{_PLACE}{_DISTRICT}$")
# (a year alone is not a postcode: "F-16, then V-2, 1944")
_SEGMENT_STATE_ZIP = re.compile(
    rf"^(?!(?:19|20)\d\d$)(?:[A-Z]{{2,3}}[ \t]+)?{_ANY_POSTCODE}$|^\(?[A-Z]{{2}}\)?$"
)
# The street words a number may follow as part of the name ("Ang Mo Kio Ave 10").
_NUMBERED_TYPE = re.compile(r"(?i)(?<![\w-])(?:ave|avenue|st|street|rd|road)\.?\Z")
# "Cl. 82J # 7A-2 Este": a direction or "bis" after the number.
_DIRECTION = re.compile(
    r"(?i)^(?:este|oeste|norte|sur|bis|north|south|east|west|upper|lower|[NSEW]|NE|NW|SE|SW)\.?$"
)
_SEPARATOR = re.compile(r"\.?[ \t]*,[ \t]*|[ \t]+")  # (after "2º Esq.": ".,")
_MAX_LINES = 6
_POSTCODES = ("postcode", "postcode_only")
_SENTENCE_END = re.compile(r"(?<=[\w)])[.;!?](?=\s)")


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _continuation(line: str) -> str | None:
    """What kind of address line ``line`` is, if any."""
    core = line.strip(" \t,;|*")
    if not core or len(core) > 60:
        return None
    if _POSTCODE_ONLY.match(core):
        return "postcode_only"
    if _POSTCODE_LINE.match(core):
        return "postcode"
    if _UNIT.match(core):
        return "unit"
    if core.casefold().rstrip(".") in _COUNTRIES:
        return "country"
    if _CITY_LINE.match(core) and len(core.split()) <= 4:
        return "city"
    return None


def _postcode_below(text: str, line_end: int, *, within: int) -> bool:
    """Is one of the next ``within`` lines a postcode line (the ones between: city lines)?"""
    pos = line_end
    for _ in range(within):
        if pos >= len(text):
            return False
        nxt_end = text.find("\n", pos + 1)
        nxt_end = len(text) if nxt_end < 0 else nxt_end
        what = _continuation(text[pos + 1 : nxt_end])
        if what in _POSTCODES:
            return True
        if what != "city":
            return False
        pos = nxt_end
    return False


# Before a street on its line: units and a house name, each with its comma ("Flat 3, 14
# Kingsway", "Rose Cottage, Mill Lane"), or a "No." for the street's number ("House No. 14,
# Ring Road").
_HOUSE_NAME = (
    rf"(?:[{_UP}][\w'’-]*[ \t]){{0,3}}(?:Cottage|Farm|House|Lodge|Manor|Hall|Barn|Villa|Grange"
    r"|Mansions|Apartments|Hospital|Towers?|Building|Centre|Center|Court|Residency|Plaza"
    r"|Gardens|Estate|Heights|Rectory|Vicarage)"
    rf"|(?:Tŷ|The)[ \t][{_UP}][\w'’-]*(?:[ \t][{_UP}][\w'’-]*)?"
    # a floor, a building's tower or block, an Indian flat ("A-502")
    r"|\d{1,2}(?:st|nd|rd|th)[ \t](?i:floor)|\d{1,2}/F"
    r"|(?:Tower|Block|Wing|Phase)[ \t][A-Z\d]{1,3}|[A-Z]{1,2}-\d{1,4}[A-Z]?"
)
_UNIT_ID = rf"(?i:{_UNIT_WORD})\.?[ \t]*(?:(?i:no)\.?[ \t]*)?(?:(?=[\w#/-]*\d)[\w#/-]{{1,8}}|[A-Z])"
_NO_BEFORE = (
    r"(?:(?:(?i:house|plot|door|flat|shop|h)\.?[ \t]*)?(?:(?i:no)\.|#|N[º°])"
    r"|(?i:blk|block)|Street|Road)[ \t]*"
)
# (one other name between them: "Flat 304, Tower B, Prestige Shantiniketan, Whitefield ...")
_KNOWN_BEFORE = rf"(?:(?:{_HOUSE_NAME}|{_UNIT_ID}),[ \t]*)"
_BEFORE_STREET = re.compile(
    rf"(?:^|(?<=[\s:(>\"'“]))(?:{_KNOWN_BEFORE}+"
    rf"(?:[{_UP}][\w'’-]*(?:[ \t][{_UP}][\w'’-]*){{0,2}},[ \t]*{_KNOWN_BEFORE}*)?"
    rf"(?:{_NO_BEFORE})?|{_NO_BEFORE})$"
)
_NUMBER_LED = ("number_first", "number_first_any", "number_type_first", "jp_block")
# A street word and a comma ("King Fahd Rd, Olaya, Riyadh 12211": no house number), and the
# capitalised name words before it.
_STRONG_WORDS = frozenset(_EN_STRONG.split("|"))
_WORD_COMMA = re.compile(r"[A-Z](?<=[ \t][A-Z])([A-Za-z]{1,10})\.?(?=,)")
_NAME_BEFORE = re.compile(
    rf"(?:^|(?<=[^\w'’-]))(?:[{_UP}][^\W\d_'’-]*|\d{{1,3}}(?:st|nd|rd|th))"
    rf"(?:[ \t](?:[{_UP}][^\W\d_'’-]*|{_PARTICLES})){{0,3}}[ \t]$"
)

# Floor and door after a Spanish, Portuguese or Italian street: "3º B", "2º izq.", "1ª".
# Also "2.º Esq." and "5è 2a", Danish "2. th.", Swedish "4 tr", a staircase and flat
# ("B 22"), Singapore's "#08-1234", Hong Kong's "17/F".
_FLOOR_DOOR = re.compile(
    r"(?i)^\d{1,2}\.?[ºª°è](?:[ \t-]*(?:\d{1,2}[ºªa]?|[a-z]|izq|izda|dcha|der|dto|esq|dir))?\.?$"
    r"|^\d{1,2}\.[ \t]?(?:th|tv|mf|sal)\.?$|^\d{1,2}[ \t]tr\.?$|^[A-H][ \t]?\d{1,3}$"
    r"|^\#\d{2}-\d{2,4}$|^\d{1,2}/F$"
)


def _segments_end(text: str, end: int, line_end: int) -> tuple[int, bool, int, bool]:
    """Extend over ", unit, city, ST 12345, country" on the street's line: the end, whether
    a postcode was passed, how many city segments, and whether a country was passed."""
    has_postcode, places, country = False, 0, False
    pos = end
    while pos < line_end:
        m = _SEPARATOR.match(text, pos, line_end)
        if m is None:
            break
        comma = "," in text[pos : m.end()]
        # a segment ends at a comma, a table cell's '|' or a sentence's end
        stop = _SEGMENT_END.search(text, m.end(), line_end)
        last = stop is not None and stop[0] != ","
        seg_end = line_end if stop is None else stop.start()
        segment = text[m.end() : seg_end].rstrip(" \t.;\"'”’»")
        if not segment:
            break
        if _POSTCODE_LINE.match(segment) or _SEGMENT_STATE_ZIP.match(segment):
            has_postcode = True
        elif (
            prefix := _POSTCODE_PREFIX.match(segment)
            or _CITY_POSTCODE_PREFIX.match(segment)
            or _CITY_NUMERIC_PREFIX.match(segment)
        ) is not None and comma:
            # "..., IN 34715 and asked", "..., Bristol BS1 6QT will be serviced": the address
            # ends inside this segment.
            return m.end() + prefix.end(), True, places, country
        elif segment.casefold().rstrip(".") in _COUNTRIES:
            country = True
        elif _SEGMENT_CITY.match(segment) and comma:
            places += 1
        elif (
            segment.isdigit()
            and len(segment) <= 3
            and not comma
            and pos == end
            and _NUMBERED_TYPE.search(text, max(0, pos - 8), pos)
        ):
            pass  # "Ang Mo Kio Ave 10": the street's own number
        elif (
            (places or country)
            and comma
            and (prose := _CITY_BEFORE_PROSE.match(segment)) is not None
        ):
            # "..., Ikeja, Lagos while"
            return m.end() + prose.end(), has_postcode, places + 1, country
        elif not (_UNIT.match(segment) or _FLOOR_DOOR.match(segment) or _DIRECTION.match(segment)):
            # One unknown segment ("San Daniel los bajos") is fine right before a postcode.
            after = text[seg_end + 1 : line_end].strip(" \t")
            tail = after.split(",", 1)[0].rstrip(" \t.;")
            if (
                comma
                and seg_end < line_end
                and not last
                and (_SEGMENT_STATE_ZIP.match(tail) or _POSTCODE_LINE.match(tail))
            ):
                return text.index(tail, seg_end) + len(tail), True, places, country
            break
        pos = m.end() + len(segment)
        if last:
            break
    return pos, has_postcode, places, country


class LeakGuardAddressRecognizer(Recognizer):
    """Street addresses; the span covers every line of a multi-line address."""

    ENTITY = "STREET_ADDRESS"
    CONTEXT = (
        "address", "addr", "live", "lives", "living", "ship", "shipping", "deliver", "delivery",
        "located", "location", "mail", "mailing", "billing", "residence", "home", "street",
        "visit", "office", "moved", "send", "post", "postal",
    )  # fmt: skip

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        if not any(c.isdigit() for c in text):
            return []  # every address form needs a house number or a postcode
        best: dict[tuple[int, int], tuple[int, int, float, str]] = {}
        for kind, start, end, weak in self._streets(text):
            grown = self._grow(text, start, end, kind=kind, weak=weak)
            if not grown[2]:
                continue
            key = grown[:2]
            if key not in best or best[key][2] < grown[2]:
                best[key] = grown
        # Keep the widest reading of each address: drop spans inside another one.
        spans = list(best.values())
        return [
            a
            for a in spans
            if not any(b is not a and b[0] <= a[0] and a[1] <= b[1] and b[2] >= a[2] for b in spans)
        ]

    def _streets(self, text: str) -> list[tuple[str, int, int, bool]]:
        streets = []
        starts: dict[re.Pattern[str], list[int]] = {}  # shared by gates with the same starts
        for kind, pattern in _STREET_FORMS:
            if (need := _FORM_NEEDS.get(kind)) is not None and need.search(text) is None:
                continue
            if isinstance(pattern, StartGate):
                at = starts.get(pattern.starts)
                if at is None:
                    at = starts[pattern.starts] = pattern.at(text)
                found = pattern.finditer(text, at)
            else:
                found = pattern.finditer(text)
            for m in found:
                # (a few characters on: "route for destination 199" is "199.36.153.4/30")
                if _NOT_STREET.search(text, m.start(), m.end() + 6):
                    continue
                if (
                    kind.startswith("type_first")
                    and len(m.group("type")) <= 2
                    and m.group("type").isupper()
                ):
                    continue  # an acronym ("AV Club 5", "OS 12"), not "Av." or "ul."
                if (
                    kind.startswith("type_first")
                    and m.group("type").lower() == "route"
                    and not _FRENCH_ROUTE.match(text, m.end("type"))
                ):
                    continue  # "Route 53 and Section 4", not "route de Lyon 12"
                # (a PO box alone could be a locker: it needs a postcode or a context word)
                weak = kind == "po_box" or (
                    kind == "number_first" and m.group("type").lower() in _WEAK_WORDS
                )
                streets.append((kind, m.start(), m.end(), weak))
        streets += [
            ("bare", m.start(), m.end(), not _GROUPED_POSTCODE.search(m[0]))
            for m in _BARE_WITH_POSTCODE.finditer(text)
        ]
        for m in _BARE_STREET.finditer(text):
            if _postcode_below(text, m.end(), within=1):
                streets.append(("bare", m.start(), m.end(), False))
        for m in _NAMED_STREET.finditer(text):
            if _postcode_below(text, m.end(), within=2):
                streets.append(("named", m.start(), m.end(), False))
        for m in _WORD_COMMA.finditer(text):  # "Hollow Rd," "King Fahd Rd,"
            if text[m.start() : m.end(1)].lower() not in _STRONG_WORDS:
                continue
            line_start = text.rfind("\n", 0, m.start()) + 1
            name = _NAME_BEFORE.search(text, max(line_start, m.start() - 61), m.start())
            if name is not None:
                streets.append(("named_inline", name.start(), m.end(), False))
        return streets

    def _grow(
        self, text: str, start: int, end: int, *, kind: str, weak: bool
    ) -> tuple[int, int, float, str]:
        line_start, line_end = _line_bounds(text, start)
        end, has_postcode, places, country = _segments_end(text, end, line_end)
        # Lines below: unit / postcode / city (only if a postcode line follows) / country.
        lines = 0
        previous: str | None = None
        pos = end
        if text[end:line_end].strip(" \t,;|*") == "":
            pos = line_end
            while pos < len(text) and lines < _MAX_LINES:
                nxt_end = text.find("\n", pos + 1)
                nxt_end = len(text) if nxt_end < 0 else nxt_end
                line = text[pos + 1 : nxt_end]
                what = _continuation(line)
                if what == "city" and previous == "postcode_only":
                    what = "postcode"  # "7170BM\n's-Heer Hendrikskinderen"
                if what is None and (stop := _SENTENCE_END.search(line)) is not None:
                    line = line[: stop.start()]  # "Adamsbury, OR 13900. Call me ..."
                    what = _continuation(line)
                    nxt_end = len(text)  # nothing after this line joins

                if what == "city" and previous != "postcode_only":
                    after_end = text.find("\n", nxt_end + 1)
                    after = text[nxt_end + 1 : len(text) if after_end < 0 else after_end]
                    if nxt_end >= len(text) or _continuation(after) not in _POSTCODES:
                        what = None
                if what is None:
                    break
                has_postcode = has_postcode or what in _POSTCODES
                previous = what
                core = line.rstrip(" \t,;|*")
                end = pos + 1 + len(core)
                pos = nxt_end
                lines += 1
        before = _BEFORE_STREET.search(text, max(line_start, start - 80), start)
        if before is not None and (before[0].rstrip()[-1:] == "," or kind in _NUMBER_LED):
            start = before.start()
        # A unit line just above ("Flat 7").
        if line_start > 0:
            above_start, _ = _line_bounds(text, line_start - 1)
            above = text[above_start : line_start - 1]
            if _UNIT.match(above.strip()):
                start = above_start + len(above) - len(above.lstrip())
        if kind in _NEEDS_POSTCODE and not has_postcode:
            score = 0.0
        elif kind == "bare" and weak and not country:
            score = 0.35  # could be "Chapter 5, 2024 Edition": needs a context word or country
        elif has_postcode:
            score = 0.85
        elif kind == "po_box" and (places or country):
            score = 0.5  # "PMB 1142, Ikeja, Lagos"
        elif lines:
            score = 0.6
        else:
            score = 0.35 if weak else 0.5
        return start, end, score, kind
