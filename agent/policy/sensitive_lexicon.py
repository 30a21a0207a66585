"""The sensitive-inference guard's lexicon: the special categories, the curated word lists and their reading.

``lexicon/<language>/<category>.yaml`` (English, German, French, Spanish; see its README) lists the values of each
category by section (strong, ambiguous, colour, skin, condition, place, label) and ``context.yaml`` the words
whose role the answer rules test (copulas, pronouns, person nouns, negations, ...). :func:`_items` splits a
text into sentences of items: every word looked up once in hash tables (longest phrase first), so the time is
linear in the text. The files are read on first use, never at import.

Pure: this module imports only ``re`` and ``dataclasses`` and reads its data files itself (a test checks it).
The underscore names are the vocabulary :mod:`agent.policy.sensitive` (the answer rules) shares with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es")
MAX_TEXT = 200_000  # characters of one text the guard reads; longer answers are judged on their head and tail


# --- the lexicon ----------------------------------------------------------------------------------------

_FOLD = str.maketrans(
    {**{c: b for b, cs in {"a": "àáâãäåāăą", "c": "çćč", "e": "èéêëēęě", "i": "ìíîïī", "n": "ñń",
                           "o": "òóôõöøō", "u": "ùúûüū", "y": "ýÿ", "z": "žźż", "s": "šś", "l": "ł",
                           "d": "đð"}.items() for c in cs},
       "ß": "ss", "æ": "ae", "œ": "oe", "’": "'"}
)  # fmt: skip
# A token: a number with decimals ("0.031"), a run of letters/digits, or one punctuation mark. Underscores
# separate words ("estimated_ethnicity"). Each alternative is a plain run: no backtracking beyond one token.
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+%?|[^\W_]+|[^\w\s]")
_GROUP_RE = re.compile(r"\(([^()]*)\)")
_HANDLE_RE = re.compile(r"(?:img|image|photo|probe)\d+")
_COMPASS_RE = re.compile(r"(?:sudost|sudwest|nordost|nordwest|ost|west|sud|nord|mittel|zentral|norte|sur|nor)")
_ADVERB_RE = re.compile(r"\w{3}(?:ly|mente|ment|erweise)$")  # adverbs the lists do not name: fillers

# Roles a context word can play (sections of lexicon/<lang>/context.yaml).
_COPULA, _GUESS, _COME, _FROM = "copula", "guess", "come", "from"
_PRONOUN, _FIRST, _THING, _SUB = "pronoun", "first_person", "thing", "subordinator"
_PNOUN, _FEATURE, _ORIGIN, _SKIN, _HAS = "person_noun", "feature_noun", "origin_noun", "skin", "has"
_NEG, _QUESTION, _PROHIBIT, _META, _CONTRAST = "negation", "question", "prohibit", "meta", "contrast"
_LIST, _FILLER, _DESCRIPTOR, _GENDER = "list", "filler", "descriptor", "gender"
_LABEL_PREFIX, _DESCRIPTOR_LABEL, _EMPTY, _NONPERSON = "label_prefix", "descriptor_label", "empty", "nonperson"
_PREPOSITION = "preposition"
_POSSESSIVE = "possessive"
_PERSON_REF = "person_ref"  # img1, a known subject's name: assigned in code
_POST = "_post"  # suffix of the noun roles of languages whose adjectives follow the noun (fr, es)
_POST_ADJECTIVE_LANGUAGES = ("fr", "es")
# Languages that drop the subject pronoun ("Parece asiática" = "she looks Asian"): a verb of theirs with no
# subject is taken to speak of the person the answer is about.
_PRO_DROP_LANGUAGES = ("es",)
_PRO_DROP = "pro_drop"
_VERBS = frozenset({_COPULA, _GUESS, _COME})
_WALKABLE = frozenset({_FILLER, _DESCRIPTOR, _LIST, _GENDER})
_BLOCKERS = frozenset({_NEG, _QUESTION, _PROHIBIT})
_TRAIT_SECTIONS = ("strong", "ambiguous", "colour", "skin", "condition", "place", "label")


@dataclass(frozen=True)
class _Entry:
    category: str
    section: str
    language: str


@dataclass
class _Lexicon:
    # first folded token -> [(folded tokens, entries)], longest first
    traits: dict[str, list[tuple[tuple[str, ...], tuple[_Entry, ...]]]] = field(default_factory=dict)
    roles: dict[str, frozenset[str]] = field(default_factory=dict)  # one raw lower-case word -> its roles
    phrases: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = field(default_factory=dict)
    words: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (lang, section) -> entries
    triggers: frozenset[str] = frozenset()  # the longest word of every entry: no entry matches without it


def _lexicon_dir() -> str:
    here = __file__.replace("\\", "/").rpartition("/")[0]
    return f"{here}/lexicon"


def _read_lists(path: str) -> dict[str, list[str]]:
    """The block lists of one lexicon file (``key:`` then ``  - entry`` lines; a subset of YAML)."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split(" #", 1)[0].rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line.startswith(" ") and line.endswith(":"):
                current = out.setdefault(line[:-1].strip(), [])
            elif line.lstrip().startswith("- ") and current is not None:
                entry = line.lstrip()[2:].strip()
                if len(entry) > 1 and entry[0] == entry[-1] and entry[0] in "'\"":
                    entry = entry[1:-1]  # quoted: YAML would read "no", "on", "null" as other types
                current.append(entry.lower())
            else:
                raise ValueError(f"{path}: unreadable line {raw!r}")
    return out


def _expand(entry: str) -> list[str]:
    """``mexican(o|a|os|as)`` -> its four spellings (any number of groups)."""
    m = _GROUP_RE.search(entry)
    if m is None:
        return [entry]
    head, tail = entry[: m.start()], entry[m.end() :]
    return [form for alt in m.group(1).split("|") for form in _expand(head + alt + tail)]


def _fold(text: str) -> str:
    return text.lower().translate(_FOLD)


def _word_tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in (m.group() for m in _TOKEN_RE.finditer(_fold(text))) if t[0].isalnum())


def _load() -> _Lexicon:
    lex = _Lexicon()
    base = _lexicon_dir()
    traits: dict[tuple[str, ...], list[_Entry]] = {}
    phrases: dict[tuple[str, ...], set[str]] = {}
    roles: dict[str, set[str]] = {}
    for lang in LANGUAGES:
        for cid in CATEGORIES:
            for section, entries in _read_lists(f"{base}/{lang}/{cid}.yaml").items():
                if section not in _TRAIT_SECTIONS:
                    raise ValueError(f"{lang}/{cid}.yaml: unknown section {section!r}")
                forms = [f for e in entries for f in _expand(e)]
                lex.words[(lang, f"{cid}:{section}")] = tuple(forms)
                for form in forms:
                    traits.setdefault(_word_tokens(form), []).append(_Entry(cid, section, lang))
        for role, entries in _read_lists(f"{base}/{lang}/context.yaml").items():
            names = {role, role + _POST} if lang in _POST_ADJECTIVE_LANGUAGES else {role}
            if lang in _PRO_DROP_LANGUAGES and role in _VERBS:
                names.add(_PRO_DROP)
            for form in (f for e in entries for f in _expand(e)):
                words = form.split()
                if len(words) == 1 and "-" not in form:
                    roles.setdefault(form, set()).update(names)
                else:
                    phrases.setdefault(_word_tokens(form), set()).update(names)
    for key, found in traits.items():
        if key:
            lex.traits.setdefault(key[0], []).append((key, tuple(dict.fromkeys(found))))
    common = {_fold(w) for w in roles}  # context words ("person", "of") make poor triggers: pick another word
    lex.triggers = frozenset(max(key, key=lambda w: (w not in common, len(w))) for key in traits if key)
    for key, names in phrases.items():
        if key:
            lex.phrases.setdefault(key[0], []).append((key, frozenset(names)))
    for table in (lex.traits, lex.phrases):
        for options in table.values():
            options.sort(key=lambda item: -len(item[0]))
    lex.roles = {w: frozenset(r) for w, r in roles.items()}
    return lex


_LEX: _Lexicon | None = None
_NO_ROLES: frozenset[str] = frozenset()


def _lexicon() -> _Lexicon:
    global _LEX
    if _LEX is None:
        _LEX = _load()  # read on first use, not at import
    return _LEX


def lexicon_words(language: str, category: str, section: str) -> tuple[str, ...]:
    """The entries (inflections spelled out) of one lexicon section, e.g. ``("en", "health", "condition")``."""
    return _lexicon().words.get((language, f"{category}:{section}"), ())


# --- tokens and items -----------------------------------------------------------------------------------


class _Item:
    """A word, a phrase from the lexicon, or a punctuation mark, with the roles the context rules test."""

    __slots__ = ("cap", "end", "entries", "hyph_after", "hyph_before", "punct", "roles", "start", "text")

    def __init__(self, start: int, end: int, text: str) -> None:
        self.entries: tuple[_Entry, ...] = ()
        self.roles: frozenset[str] = frozenset()
        self.start, self.end, self.text = start, end, text
        self.punct = ""
        self.hyph_before = self.hyph_after = False
        self.cap = text[:1].isupper()

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_trait(self) -> bool:
        return bool(self.entries)

    @property
    def content(self) -> bool:
        """A word that is not a function word: a noun or a name, for deciding what a sentence is about."""
        return not self.punct and not self.entries and not self.roles


def _items(text: str, names: frozenset[str]) -> list[list[_Item]]:
    """Sentences of items: words matched against the lexicon (longest phrase first), punctuation kept."""
    lex = _lexicon()
    toks = [(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(text)]
    words = [n for n, t in enumerate(toks) if t[2][0].isalnum()]  # token index of each word
    folded = [_fold(toks[n][2]) for n in words]
    at_word = {n: w for w, n in enumerate(words)}
    sentences: list[list[_Item]] = [[]]
    i = 0
    while i < len(toks):
        start, end, raw = toks[i]
        if i and "\n" in text[toks[i - 1][1] : start]:
            sentences.append([])
        if not raw[0].isalnum():
            i += 1
            if raw in "'`´’" or (raw == "-" and _joined_by_hyphen(toks, i - 1)):
                continue  # apostrophes and word-joining hyphens ("dark-skinned") are not items
            item = _Item(start, end, raw)
            item.punct = raw
            sentences[-1].append(item)
            if raw in ".!?;" and not (raw == "." and _is_abbreviation(text, start)):
                sentences.append([])
            continue
        w = at_word[i]
        length, entries, roles = _match(lex, folded, toks, words, w)
        last = words[w + length - 1]
        item = _Item(start, toks[last][1], text[start : toks[last][1]])
        low = raw.lower()
        if length == 1 and low in names:
            item.roles = frozenset({_PERSON_REF})
        else:
            item.entries = entries
            item.roles = roles | (lex.roles.get(low, frozenset()) if length == 1 else frozenset())
            if length == 1 and (_HANDLE_RE.fullmatch(low) or raw[0].isdigit()):
                item.roles = item.roles | {_PERSON_REF if raw[0].isalpha() else _DESCRIPTOR}
            if length == 1 and not item.roles and not entries and _ADVERB_RE.search(low):
                item.roles = frozenset({_FILLER})  # "honestly", "offensichtlich", "claramente", "vraiment"
        item.hyph_before = i >= 2 and toks[i - 1][2] == "-" and _joined_by_hyphen(toks, i - 1)
        item.hyph_after = last + 2 < len(toks) and toks[last + 1][2] == "-" and _joined_by_hyphen(toks, last + 1)
        sentences[-1].append(item)
        i = last + 1
    return [s for s in sentences if s]


def _joined_by_hyphen(toks: list[tuple[int, int, str]], i: int) -> bool:
    """Token ``i`` is a hyphen with a word right before and right after it."""
    return (
        0 < i < len(toks) - 1
        and toks[i - 1][1] == toks[i][0]
        and toks[i][1] == toks[i + 1][0]
        and toks[i - 1][2][0].isalnum()
        and toks[i + 1][2][0].isalnum()
    )


def _is_abbreviation(text: str, dot: int) -> bool:
    # "e.g.", "z. B.", "approx." do not end a sentence: a dot followed by a lower-case word
    rest = text[dot + 1 : dot + 3].lstrip()
    return bool(rest) and rest[0].islower()


def _match(
    lex: _Lexicon, folded: list[str], toks: list[tuple[int, int, str]], words: list[int], w: int
) -> tuple[int, tuple[_Entry, ...], frozenset[str]]:
    """The longest lexicon phrase starting at word ``w``: (words, trait entries, context roles of a phrase).

    Trait entries and context phrases of the same length both apply ("complexion" is a label and a skin
    word); a phrase marked ``nonperson`` ("black and white", "white background") cancels the traits.
    """

    first = folded[w]
    if (
        first not in lex.phrases
        and first not in lex.traits
        and not first.endswith("s")
        and not _COMPASS_RE.match(first)
    ):
        return 1, (), _NO_ROLES  # most words: nothing to match

    def fits(key: tuple[str, ...]) -> bool:
        if w + len(key) > len(words):
            return False
        for n, word in enumerate(key):
            if folded[w + n] != word:
                return False
            if n and not _joined(toks, words[w + n - 1], words[w + n]):
                return False
        return True

    phrase = next(((len(k), r) for k, r in lex.phrases.get(folded[w], ()) if len(k) > 1 and fits(k)), (0, None))
    trait = next(((len(k), e) for k, e in lex.traits.get(folded[w], ()) if fits(k)), (0, None))
    if trait[1] is None and phrase[1] is None:
        word = folded[w]
        candidates = [word[:-1]] if len(word) > 3 and word.endswith("s") else []  # plurals: "Christians"
        m = _COMPASS_RE.match(word)
        if m and len(word) - m.end() > 4:
            candidates.append(word[m.end() :])  # "osteuropäische", "westafrikanisch", "sudamericana"
        for candidate in candidates:
            for key, entries in lex.traits.get(candidate, ()):
                if len(key) == 1 and all(e.section in ("strong", "ambiguous") for e in entries):
                    return 1, entries, frozenset()
        return 1, (), frozenset()
    length = max(phrase[0], trait[0])
    roles = phrase[1] if phrase[0] == length and phrase[1] is not None else frozenset()
    entries = trait[1] if trait[0] == length and trait[1] is not None and _NONPERSON not in roles else ()
    return length, entries, roles


def _joined(toks: list[tuple[int, int, str]], a: int, b: int) -> bool:
    """Tokens a and b are neighbours in a phrase: only spaces, a hyphen or an apostrophe between them."""
    return all(not t[2][0].isalnum() and t[2] in "-'’`´" for t in toks[a + 1 : b])


# --- word lists other modules read ---------------------------------------------------------------------


def _single_words() -> frozenset[str]:
    out: set[str] = set()
    for (_, key), forms in _lexicon().words.items():
        if key.rpartition(":")[2] in ("strong", "ambiguous", "colour"):
            out.update(f for f in forms if " " not in f and "-" not in f)
    return frozenset(out | {_fold(w) for w in out})


def __getattr__(name: str) -> object:
    # read from the lexicon on first use (PEP 562), so that importing this module reads no file
    if name == "TRAIT_WORDS":
        return _single_words()
    if name == "DEMONYMS":
        return lexicon_words("en", "racial_or_ethnic_origin", "ambiguous")
    if name == "CONDITIONS":
        return lexicon_words("en", "health", "condition")
    raise AttributeError(name)


TRAIT_WORDS: frozenset[str]  # every single word that, said of a person, states a trait (a reasoner never takes
DEMONYMS: tuple[str, ...]  # one for a name); nationality adjectives (English); health conditions (English)
CONDITIONS: tuple[str, ...]

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "CONDITIONS",
    "DEMONYMS",
    "LANGUAGES",
    "MAX_TEXT",
    "TRAIT_WORDS",
    "lexicon_words",
]
