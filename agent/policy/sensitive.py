"""Special categories a face must not be used to infer (AI Act Art. 5(1)(g), GDPR Art. 9), found in text.

Two questions, both pure string work:

* :func:`requested_sensitive_attributes`: does a request ask about one of the categories ("what religion is
  he?")? The offline reasoner uses it to refuse without calling a tool.
* :func:`sensitive_inferences`: does an answer *state* a value of one of them about a person ("appears to be of
  African descent", "is likely Christian", "an Asian woman")? The reason node uses it as an output guard: a
  model that was shown a face can say such a thing without calling any tool, so tool-level policy alone is not
  enough. Naming a category ("inferring race is prohibited") is not an inference; neither is a hedged refusal
  ("I cannot tell whether she is Muslim").

The patterns are deliberately simple and biased towards catching a statement about a person; they are a
backstop, not a classifier. Category ids are stable (audited); the matched text never is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# fmt: off
# category id -> (readable name, words that ask about it)
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "racial_or_ethnic_origin": (
        "racial or ethnic origin",
        ("race", "racial", "ethnicity", "ethnic", "ethnic origin", "ethnic background", "skin colour",
         "skin color", "nationality", "ancestry", "descent"),
    ),
    "religious_or_philosophical_beliefs": (
        "religious or philosophical beliefs",
        ("religion", "religious", "faith", "muslim", "christian", "jewish", "hindu", "buddhist", "atheist",
         "catholic", "protestant", "sikh"),
    ),
    "political_opinions": (
        "political opinions",
        ("political", "politics", "political opinion", "political opinions", "political party", "vote", "votes",
         "voted", "voting", "voter", "democrat", "republican"),
    ),
    "sex_life_or_sexual_orientation": (
        "sex life or sexual orientation",
        ("sexual orientation", "sexuality", "sex life", "gay", "lesbian", "bisexual", "homosexual",
         "heterosexual", "queer", "trans", "transgender"),
    ),
    "health": (
        "health",
        ("health", "healthy", "disease", "diseases", "illness", "pregnant", "pregnancy",
         "disability", "mental illness", "mental health", "depressed", "depression"),
    ),
    "trade_union_membership": (
        "trade union membership",
        ("trade union", "union member", "union membership"),
    ),
}
# fmt: on

CATEGORY_NAMES: dict[str, str] = {cid: name for cid, (name, _) in CATEGORIES.items()}


def _alternation(words: tuple[str, ...] | list[str]) -> str:
    # longest first so "mental illness" wins over "illness"; spaces match any whitespace or a hyphen
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in ordered)


_REQUEST_RES: dict[str, re.Pattern[str]] = {
    cid: re.compile(rf"\b(?:{_alternation(words)})\b", re.IGNORECASE) for cid, (_, words) in CATEGORIES.items()
}
# "straight" asks about orientation only when said of someone ("is he straight?"), not "a straight answer".
_STRAIGHT_REQUEST = re.compile(r"\b(?:is|are|am|was|looks?|seems?)\s+(?:\w+\s+)?straight\b", re.IGNORECASE)
# "disabled", "ill", "sick" ask about health only when said of a person or a pictured face ("is img1 disabled?",
# "the employee looks ill", "a disabled person"), not "policy checks are disabled" or "the camera is disabled".
_WHO = (
    r"(?:img\s*\d+|image\s*\d+|photo\s*\d+|he|she|they|him|her|someone|somebody|this\s+(?:person|man|woman)"
    r"|the\s+(?:person|man|woman|employee|patient|participant|customer|pupil|child|subject|panelist|operator))"
)
_PERSON_STATE = r"(?:disabled|ill|sick)"
_HEALTH_STATE_REQUEST = re.compile(
    rf"\b(?:is|are|was|were)\s+{_WHO}\s+(?:\w+\s+){{0,3}}?{_PERSON_STATE}\b"
    rf"|\b{_WHO}\s+(?:\w+\s+){{0,3}}?(?:is|are|was|looks?|seems?|appears?)\s+(?:to\s+be\s+)?{_PERSON_STATE}\b"
    rf"|\bdisabled\s+(?:person|people|man|woman|child|employee|patient)\b",
    re.IGNORECASE,
)


def requested_sensitive_attributes(text: str) -> list[str]:
    """Category ids (see :data:`CATEGORIES`) the text asks about, in catalogue order; [] when none."""
    found = [cid for cid, pattern in _REQUEST_RES.items() if pattern.search(text or "")]
    if "sex_life_or_sexual_orientation" not in found and _STRAIGHT_REQUEST.search(text or ""):
        found.append("sex_life_or_sexual_orientation")
    if "health" not in found and _HEALTH_STATE_REQUEST.search(text or ""):
        found.append("health")
    if "racial_or_ethnic_origin" not in found and _ORIGIN_REQUEST.search(text or ""):
        found.append("racial_or_ethnic_origin")
    for cid, pattern in _VALUE_QUESTIONS.items():
        if cid not in found and pattern.search(text or ""):
            found.append(cid)  # "is img1 black?", "is he Asian?": a yes/no question asks for the trait too
    return [cid for cid in CATEGORIES if cid in found]


# --- answers --------------------------------------------------------------------------------------------

# fmt: off
# Values that, stated of a person, are an inference of the category. Ambiguous ones ("white", "straight",
# "conservative") count only when the sentence is about a person.
_VALUES: dict[str, tuple[str, ...]] = {
    "racial_or_ethnic_origin": (
        "caucasian", "asian", "east asian", "south asian", "southeast asian", "african", "african american",
        "hispanic", "latino", "latina", "latinx", "arab", "arabic", "middle eastern", "north african",
        "native american", "indigenous", "pacific islander", "mixed race", "biracial", "ethnically \\w+",
    ),
    "religious_or_philosophical_beliefs": (
        "muslim", "christian", "jewish", "jew", "hindu", "buddhist", "atheist", "agnostic", "catholic",
        "protestant", "sikh", "religious", "devout",
    ),
    "political_opinions": (
        "democrat", "republican", "left-wing", "right-wing", "socialist", "communist", "a trump supporter",
        "a biden supporter", "politically \\w+",
    ),
    "sex_life_or_sexual_orientation": (
        "gay", "lesbian", "bisexual", "homosexual", "heterosexual", "queer", "transgender", "trans",
        "non-binary",
    ),
    "health": (
        "pregnant", "disabled", "diabetic", "autistic", "depressed", "mentally ill", "chronically ill",
        "terminally ill", "blind", "deaf",
    ),
    "trade_union_membership": ("a union member", "a trade union member", "unionised", "unionized"),
}
# Nationality and ethnic adjectives: a nationality read off a face is an inference of ethnic origin. They name
# food, languages and places too ("Korean food"), so they count only when the sentence is about a person.
DEMONYMS: tuple[str, ...] = (
    "american", "canadian", "mexican", "brazilian", "argentinian", "argentine", "colombian", "peruvian",
    "chilean", "venezuelan", "cuban", "puerto rican", "jamaican", "haitian", "dominican", "latin american",
    "british", "english", "irish", "scottish", "welsh", "french", "german", "italian", "spanish", "portuguese",
    "greek", "dutch", "belgian", "swiss", "austrian", "swedish", "norwegian", "danish", "finnish",
    "scandinavian", "nordic", "russian", "ukrainian", "polish", "czech", "slovak", "hungarian", "romanian",
    "bulgarian", "serbian", "croatian", "bosnian", "albanian", "slavic", "turkish", "kurdish", "armenian",
    "georgian", "iranian", "persian", "iraqi", "syrian", "lebanese", "israeli", "palestinian", "jordanian",
    "saudi", "yemeni", "egyptian", "moroccan", "algerian", "tunisian", "libyan", "sudanese", "ethiopian",
    "eritrean", "somali", "kenyan", "ugandan", "tanzanian", "nigerian", "ghanaian", "senegalese", "congolese",
    "angolan", "zimbabwean", "south african", "afghan", "pakistani", "bangladeshi", "nepali", "nepalese",
    "sri lankan", "tibetan", "chinese", "japanese", "korean", "mongolian", "vietnamese", "thai", "cambodian",
    "laotian", "burmese", "filipino", "filipina", "indonesian", "malaysian", "singaporean", "taiwanese",
    "australian", "aboriginal", "maori", "polynesian", "samoan", "hawaiian", "inuit", "romani", "gypsy",
)
# Health conditions stated as something a person has ("he has Down syndrome", "she appears to have autism").
CONDITIONS: tuple[str, ...] = (
    "down syndrome", "down's syndrome", "autism", "asd", "adhd", "dementia", "alzheimer's",
    "alzheimers", "alzheimer", "parkinson's", "parkinsons", "parkinson", "cancer", "a tumor", "a tumour", "diabetes",
    "hiv", "aids", "depression", "schizophrenia", "bipolar disorder", "bipolar", "an anxiety disorder",
    "anxiety", "ptsd", "ocd", "epilepsy", "cerebral palsy", "multiple sclerosis", "a disability",
    "disabilities", "a mental illness", "mental illness", "a mental disorder", "an illness", "a disease",
    "a chronic illness", "a chronic disease", "an eating disorder", "anorexia", "bulimia", "hepatitis",
    "tuberculosis", "leprosy", "albinism", "a heart condition", "a medical condition",
    "a condition", "a syndrome", "a genetic disorder", "a learning disability", "an intellectual disability",
    "dyslexia", "obesity", "a pregnancy", "a baby on the way", "a prosthetic", "a hearing aid",
)
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "racial_or_ethnic_origin": ("white", "black", "brown", "european", "indian", *DEMONYMS),
    "political_opinions": ("liberal", "conservative", "progressive"),
    "sex_life_or_sexual_orientation": ("straight",),
    "health": ("ill", "sick"),
}
# fmt: on

_HEDGE = (
    r"(?:appears?|appeared|looks?|looked|seems?|seemed)(?:\s+to\s+be|\s+like)?"
    r"|is|are|was|were|be|likely|probably|possibly|presumably|perhaps|apparently|evidently"
)
_FILLER = (
    r"(?:(?:a|an|the|most|more|very|quite|rather|likely|probably|possibly|clearly|obviously|visibly|"
    r"evidently|noticeably|definitely|certainly|surely|of)\s+){0,3}"
)
_PERSON_NOUN = (
    r"(?:man|men|woman|women|person|people|male|female|individual|boy|girl|child|guy|lady|gentleman|"
    r"family|couple|kid|teen|teenager)"
)
_PERSON_SUBJECT = re.compile(
    r"\b(?:he|she|they|person|man|woman|individual|subject|someone|people|child|boy|girl|guy|lady|who)\b",
    re.IGNORECASE,
)
# A clause with one of these before the value is a refusal or a question, not a statement.
_NEGATION = re.compile(
    r"\b(?:not|cannot|can't|can\s+not|won't|will\s+not|don't|do\s+not|does\s+not|doesn't|unable|never|"
    r"whether|if|refuse[sd]?|no|prohibited|forbidden|nor)\b|n't\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[.!?;:,\n]|\bbut\b|\bhowever\b", re.IGNORECASE)
_DESCENT = re.compile(
    r"\bof\s+(?!(?:unknown|any|no|what|which|whose|their|his|her|its|uncertain|unclear)\b)"
    r"((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:descent|ancestry|heritage|extraction|ethnicity|ethnic\s+origin)\b",
    re.IGNORECASE,
)


# fmt: off
# "<category>: <value>" (a form field, a bullet, a table row): "Ethnicity: Caucasian", "race: white".
_LABELS: dict[str, tuple[str, ...]] = {
    "racial_or_ethnic_origin": (
        "race", "racial origin", "ethnicity", "ethnic origin", "ethnic background", "ethnic group", "skin colour",
        "skin color", "skin tone", "nationality", "ancestry", "descent", "heritage",
    ),
    "religious_or_philosophical_beliefs": ("religion", "religious belief", "religious beliefs", "faith"),
    "political_opinions": (
        "political opinion", "political opinions", "political views", "political affiliation",
        "political leaning", "political party", "politics", "party affiliation",
    ),
    "sex_life_or_sexual_orientation": ("sexual orientation", "sexuality", "sex life"),
    "health": (
        "health", "health status", "health condition", "medical condition", "diagnosis", "disability",
        "disabilities", "illness", "disease", "pregnancy", "pregnant", "mental health",
    ),
    "trade_union_membership": ("union membership", "trade union membership", "trade union", "union member"),
}
# fmt: on
_LABEL_RES: dict[str, re.Pattern[str]] = {
    cid: re.compile(rf"\b(?:{_alternation(words)})\s*[:=]\s*(?P<value>[^.;,\n]*[^\W\d_][^.;,\n]*)", re.IGNORECASE)
    for cid, words in _LABELS.items()
}
# A label whose value says nothing was inferred ("Race: not inferred", "ethnicity: n/a") is not an inference.
_EMPTY_VALUE = re.compile(
    r"^\W*(?:n/?a|none|unknown|unspecified|undetermined|withheld|redacted|unavailable|refused|omitted|"
    r"not\b|no\b|-|\?)",
    re.IGNORECASE,
)
# "has / appears to have / suffers from <condition>", said of a person.
_HAS_CONDITION = re.compile(
    r"\b(?:has|have|had|having|with|suffers?\s+from|suffered\s+from|suffering\s+from|diagnosed\s+with|"
    r"living\s+with|lives\s+with)\s+(?:[\w'-]+\s+){0,3}?(?P<value>"
    + "|".join(
        re.escape(c).replace(r"\ ", r"[\s-]+").replace("'", "'?") for c in sorted(CONDITIONS, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)
# Every word that, said of a person, states a special-category trait (a reasoner never takes one for a name).
TRAIT_WORDS: frozenset[str] = frozenset(
    w for values in (*_VALUES.values(), *_AMBIGUOUS.values()) for w in values if "\\" not in w and " " not in w
)


# "Which country is he from?", "where does she come from?": origin read off a face.
_ORIGIN_REQUEST = re.compile(
    rf"\b(?:which|what)\s+(?:country|countries|nation|continent|part\s+of\s+the\s+world)\b"
    rf"|\bwhere\s+(?:is|are|was|were|does|do|did)\s+{_WHO}\s+(?:\w+\s+){{0,2}}?(?:from|come\s+from|originally)\b"
    rf"|\b{_WHO}\s+(?:is|are|comes?|looks?)\s+(?:\w+\s+){{0,2}}?from\s+(?:which|what|where)\b",
    re.IGNORECASE,
)
# A yes/no question about a value: "is img1 black?", "is he Asian?", "does she look Muslim?".
_VALUE_QUESTIONS: dict[str, re.Pattern[str]] = {
    cid: re.compile(
        rf"\b(?:is|are|was|were|does|do|did)\s+{_WHO}\s+"
        rf"(?:(?:look|looks|seem|seems|appear|appears|to|be|like|a|an|of|really|actually|maybe|perhaps|in|the|"
        rf"img\s*\d+|image\s*\d+|photo|picture)\s+){{0,4}}"
        rf"(?:{_alternation([w for w in (*_VALUES[cid], *_AMBIGUOUS.get(cid, ())) if chr(92) not in w])})\b",
        re.IGNORECASE,
    )
    for cid in _VALUES
}


@dataclass(frozen=True)
class SensitiveMatch:
    """One inference found in an answer: the category id and the value as the answer spelled it."""

    category: str
    value: str


def _compile(values: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    alt = "|".join(
        v if "\\" in v else re.escape(v).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
        for v in sorted(values, key=len, reverse=True)
    )
    stated = re.compile(rf"\b(?:{_HEDGE})\s+{_FILLER}(?P<value>{alt})\b", re.IGNORECASE)
    noun = re.compile(rf"\b(?P<value>{alt})\s+{_PERSON_NOUN}\b", re.IGNORECASE)
    return stated, noun


_PATTERNS = {cid: _compile(values) for cid, values in _VALUES.items()}
_AMBIGUOUS_PATTERNS = {cid: _compile(values) for cid, values in _AMBIGUOUS.items()}


def _clause_before(text: str, start: int) -> str:
    """The text of the clause that ends at ``start`` (back to the last clause break)."""
    head = text[:start]
    last = 0
    for m in _CLAUSE_BREAK.finditer(head):
        last = m.end()
    return head[last:]


def _sentence_before(text: str, start: int) -> str:
    head = text[:start]
    cut = max(head.rfind("."), head.rfind("!"), head.rfind("?"), head.rfind("\n"))
    return head[cut + 1 :]


def _trigger(phrase: str) -> str:
    """The longest word of a phrase: a phrase can only match where that word occurs in the text."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"\\[a-zA-Z][+*?]?", " ", phrase.lower().replace("'", "")))
    return max(words, key=len) if words else ""


# Every answer passes the guard, and most name no trait at all: a substring pre-check against one word of each
# phrase the patterns below can match skips the ~20 regex passes (they cost ~0.5 ms an answer).
_TRIGGERS: frozenset[str] = frozenset(
    t
    for t in (
        _trigger(p)
        for group in (*_VALUES.values(), *_AMBIGUOUS.values(), *_LABELS.values(), tuple(CONDITIONS))
        for p in group
    )
    if t
) | {"descent", "ancestry", "heritage", "extraction", "ethnic", "ethnicity"}


def sensitive_inference_matches(answer: str) -> list[SensitiveMatch]:
    """Every inference of a special-category value about a person in ``answer`` (see the module docstring)."""
    text = answer or ""
    low = text.lower().replace("'", "")
    if not any(t in low for t in _TRIGGERS):
        return []
    found: list[tuple[int, SensitiveMatch]] = []

    def keep(cid: str, m: re.Match[str], *, needs_person: bool) -> None:
        clause = _clause_before(text, m.start())
        if _NEGATION.search(clause) or _NEGATION.search(text[m.start() : m.start("value")]):
            return
        if needs_person and not _PERSON_SUBJECT.search(_sentence_before(text, m.start())):
            return
        found.append((m.start(), SensitiveMatch(category=cid, value=m.group("value"))))

    for cid, (stated, noun) in _PATTERNS.items():
        for m in stated.finditer(text):
            keep(cid, m, needs_person=False)
        for m in noun.finditer(text):
            keep(cid, m, needs_person=False)
    for cid, (stated, noun) in _AMBIGUOUS_PATTERNS.items():
        for m in stated.finditer(text):
            keep(cid, m, needs_person=True)  # "the wall is white" says nothing about a person
        for m in noun.finditer(text):
            keep(cid, m, needs_person=False)  # "a white man": the noun is the person
    for cid, pattern in _LABEL_RES.items():
        for m in pattern.finditer(text):
            value = m.group("value").strip()
            if value and not _EMPTY_VALUE.search(value) and not _NEGATION.search(value):
                found.append((m.start(), SensitiveMatch(category=cid, value=value)))
    for m in _HAS_CONDITION.finditer(text):
        keep("health", m, needs_person=True)
    for m in _DESCENT.finditer(text):
        if not _NEGATION.search(_clause_before(text, m.start())):
            found.append((m.start(), SensitiveMatch(category="racial_or_ethnic_origin", value=m.group(1))))
    seen: set[SensitiveMatch] = set()
    out: list[SensitiveMatch] = []
    for _, match in sorted(found, key=lambda item: item[0]):
        if match not in seen:
            seen.add(match)
            out.append(match)
    return out


def sensitive_inferences(answer: str) -> list[str]:
    """Category ids (see :data:`CATEGORIES`) of which ``answer`` states a value about a person; [] when none."""
    hit = {m.category for m in sensitive_inference_matches(answer)}
    return [cid for cid in CATEGORIES if cid in hit]


__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "CONDITIONS",
    "DEMONYMS",
    "TRAIT_WORDS",
    "SensitiveMatch",
    "requested_sensitive_attributes",
    "sensitive_inference_matches",
    "sensitive_inferences",
]
