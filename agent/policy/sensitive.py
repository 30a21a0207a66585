"""Special categories a face must not be used to infer (AI Act Art. 5(1)(g), GDPR Art. 9), found in text.

Two questions, both pure text work:

* :func:`requested_sensitive_attributes`: does a request ask about one of the categories ("what religion is
  he?")? The offline reasoner uses it to refuse without calling a tool.
* :func:`sensitive_inferences`: does an answer *state* a value of one of them about a person ("appears to be of
  African descent", "ist vermutlich Muslima", "une femme noire", "Etnia: asiática", ``{"ethnicity": "South
  Asian"}``)? The reason node uses it as an output guard: a model that was shown a face can say such a thing
  without calling any tool, so tool-level policy alone is not enough. Naming a category ("inferring race is
  prohibited") is not an inference; neither is a refusal ("I cannot tell whether she is Muslim"), nor a trait
  word said of a thing ("white background", "the Spanish door sensor", "policy checks are disabled").

The answer side reads a curated lexicon (``lexicon/<language>/<category>.yaml``: English, German, French,
Spanish; see its README) and decides each occurrence of a value by its context: is it said of a person (the
predicate of a person, next to a person noun, a label's value, a bare item of a person's description), of a
thing, or under a negation, a question or a refusal? Text is split into word tokens once and looked up in
hash tables, so the time is linear in the input (no regular expression backtracks over it).

Category ids are stable (audited); the matched text never is. This module imports only ``re`` and
``dataclasses`` (a test checks it): it reads its data files itself.
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


# --- the rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensitiveMatch:
    """One inference found in an answer: the category id, the value as the answer spelled it, where it is.

    ``start``/``end`` are character offsets in the text that was checked; for structured answers ``path`` names
    the field (``demographics.ethnicity``) and the offsets are within that field's text.
    """

    category: str
    value: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)
    path: str = field(default="", compare=False)


_CLAUSE_BREAKS = frozenset({",", ":", "=", "(", ")", "[", "]", "{", "}", '"', "-", "/", "|", "«", "»", "“", "”"})
_REACH = 12  # items a rule looks back or ahead: keeps every rule O(1) per value, so a text costs O(length)


class _Sentence:
    """One sentence's items with its clauses (split at commas, colons, brackets, "but") and per-clause facts
    computed once, so that no rule rescans a long sentence for every value in it."""

    def __init__(self, items: list[_Item]) -> None:
        self.items = items
        ends = [it.punct for it in items if it.punct in ".!?;"]
        self.question = bool(ends) and ends[-1] == "?"
        self.clause: list[int] = []
        self.clause_start: list[int] = []  # per clause id: first item
        self.clause_end: list[int] = []  # per clause id: one past the last item
        self.blockers = [0]  # blockers[i]: negations/questions/prohibitions among items[:i]
        self.meta: list[bool] = []  # per clause id: names an inference ("infer", "guess", "tell")
        self.first_guess: list[int] = []  # per clause id: index of its first guess word
        for i, it in enumerate(items):
            if not self.clause or it.punct in _CLAUSE_BREAKS or it.has(_CONTRAST):
                self.clause_start.append(i)
                self.clause_end.append(i)
                self.meta.append(False)
                self.first_guess.append(len(items))
            c = len(self.clause_start) - 1
            self.clause.append(c)
            self.clause_end[c] = i + 1
            self.blockers.append(self.blockers[-1] + bool(not it.punct and it.roles & _BLOCKERS))
            self.meta[c] = self.meta[c] or it.has(_META)
            if it.has(_GUESS) and self.first_guess[c] == len(items):
                self.first_guess[c] = i
        self.person_evidence = any(
            it.has(_PRONOUN) or it.has(_PNOUN) or it.has(_GENDER) or it.has(_PERSON_REF) for it in items
        )
        self.described = any(it.has(_DESCRIPTOR_LABEL) for it in items[:3])

    def clause_items(self, k: int, reach: int = _REACH) -> list[int]:
        """Indexes of the words of item k's clause, at most ``reach`` on each side of k."""
        c = self.clause[k]
        lo, hi = max(self.clause_start[c], k - reach), min(self.clause_end[c], k + reach + 1)
        return [j for j in range(lo, hi) if not self.items[j].punct]

    def clause_len(self, k: int) -> int:
        c = self.clause[k]
        return self.clause_end[c] - self.clause_start[c]

    def blocked_before(self, k: int) -> bool:
        """A negation, question word or prohibition between the start of k's clause and k."""
        return self.blockers[k] - self.blockers[self.clause_start[self.clause[k]]] > 0

    def blocked_clause(self, k: int) -> bool:
        c = self.clause[k]
        return self.blockers[self.clause_end[c]] - self.blockers[self.clause_start[c]] > 0


def _blocked(items: list[_Item], idx: list[int]) -> bool:
    return any(not items[j].punct and items[j].roles & _BLOCKERS for j in idx)


def _subject_form(it: _Item) -> bool:
    """A pronoun that can be a subject ("she", "er", "elle", "ella"), not "her", "ihr", "son"."""
    return it.has(_PRONOUN) and not it.roles & {_FILLER, _PREPOSITION, _POSSESSIVE}


def _subject(s: _Sentence, end: int) -> str:
    """What the words before a verb at ``end`` are about: person, thing, first (the speaker) or unknown."""
    items = s.items
    window: list[_Item] = []
    j = end - 1
    while j >= 0 and end - j <= _REACH and not items[j].punct and not items[j].has(_CONTRAST):
        if items[j].has(_SUB):
            break  # "the photo shows that she is ...": the subject is after "that"
        window.append(items[j])
        j -= 1
    window.reverse()
    if window and window[-1].has(_LIST):
        # "she wears a kippa and is ...": the verb shares the subject of the clause before "and"
        first = next((it for it in window if not it.roles & _WALKABLE), None)
        if first is not None and _subject_form(first):
            return "person"
    for n in range(len(window) - 1, -1, -1):  # "the headscarf suggests she is ...": a pronoun before the verb
        it = window[n]
        if _subject_form(it) and (n == 0 or not window[n - 1].has(_PREPOSITION)):  # not "the wall behind her"
            return "person"
        if not it.roles & (_WALKABLE - {_LIST}):
            break
    for n, it in enumerate(window):
        if it.roles & _VERBS:
            continue  # "looks" is a verb here, not a noun
        if it.has(_PERSON_REF):
            return "person"
        if it.has(_PNOUN):
            if n + 1 < len(window) and window[n + 1].text.lower() == "s":
                continue  # "the person's background": the head is what follows
            return "person"
        if it.roles & {_FEATURE, _ORIGIN, _SKIN}:
            return "feature"  # "her features are ...", "ihr Aussehen ist ..."
        if it.has(_THING) or it.content:
            return "thing"
    if any(it.has(_PRONOUN) for it in window):
        return "person"
    if any(it.has(_FIRST) for it in window):
        return "first"
    return "unknown"


def _guessed(s: _Sentence, verb: int) -> bool:
    """The clause before a copula names a guess: "my best guess for her ancestry would be ..."."""
    return s.first_guess[s.clause[verb]] < verb


def _predicate(s: _Sentence, k: int, *, strong: bool = False) -> tuple[str, str, list[int]] | None:
    """Is item ``k`` the predicate of a verb ("is", "looks", "ist", "semble", "parece", "comes from")?

    Returns (verb role, subject kind, indexes walked) or None. Walks back over fillers, descriptors, lists,
    other traits and pronouns ("in her 30s, white, female"); also forward to a verb at the end of a German
    subordinate clause ("dass sie Muslima ist"). A value that is a whole predicate ("vote RN", "wählt AfD")
    said right after a person counts too. Subject kinds: person, feature, thing, first, unknown, and
    pro-drop (no subject, in a language that leaves it out).
    """
    items = s.items
    walked: list[int] = []
    person_in_walk = False
    verbs = _VERBS | {_HAS} if strong else _VERBS
    j = k - 1
    while j >= 0 and k - j <= _REACH:
        it = items[j]
        if it.punct:
            if it.punct != ",":
                break
        elif it.roles & verbs:
            verb = _GUESS if it.has(_GUESS) else (_COME if it.has(_COME) else _COPULA)
            subject = _subject(s, j)
            if verb == _COPULA and _guessed(s, j):
                verb = _GUESS  # "my best guess would be ...", "ma supposition est ..."
            if person_in_walk and subject in ("unknown", "thing", "feature"):
                subject = "person"  # "Vermutlich ist sie ...", "is he ..."
            if subject == "unknown" and it.has(_PRO_DROP):
                subject = "pro_drop"
            return verb, subject, walked
        elif it.is_trait or it.roles & _WALKABLE or it.has(_PERSON_REF) or it.has(_FROM):
            person_in_walk = person_in_walk or it.has(_PERSON_REF)
        elif it.has(_PRONOUN) or it.has(_PNOUN):
            person_in_walk = True
        else:
            break
        walked.append(j)
        j -= 1
    if person_in_walk and (j < 0 or items[j].punct):
        return _COPULA, "person", walked  # "Il vote RN", "Er wählt AfD": the value is the whole predicate
    # verb-final clauses: "..., dass sie Muslima ist", "weil er schwul sei"
    n = k + 1
    while (
        n < len(items) and n - k <= _REACH and not items[n].punct and (items[n].roles & _WALKABLE or items[n].is_trait)
    ):
        n += 1
    if n < len(items) and not items[n].punct and items[n].has(_COPULA):
        before = [j for j in s.clause_items(k) if j < k]
        kinds = [items[j] for j in before]
        if any(it.has(_PRONOUN) or it.has(_PNOUN) or it.has(_PERSON_REF) for it in kinds):
            return _COPULA, "person", before
    return None


def _neighbour_has(items: list[_Item], k: int, step: int, wanted: set[str], skip: frozenset[str]) -> bool:
    """Is there, next to item ``k`` in direction ``step`` (skipping other values and ``skip`` words), a word
    with one of the ``wanted`` roles?"""
    j = k + step
    while 0 <= j < len(items) and abs(j - k) <= _REACH and not items[j].punct:
        it = items[j]
        if it.roles & wanted:
            return True
        if not (it.is_trait or it.roles & skip):
            return False
        j += step
    return False


_SKIP_NEXT = frozenset({_LIST})
_SKIP_PREV = frozenset({_LIST, _FILLER})


def _attributive(s: _Sentence, k: int, entry: _Entry) -> bool:
    """Said of a person noun next to it: "a white man", "Asian features", "une femme noire", "de origen árabe"."""
    colour = entry.section == "colour"
    after = {_PNOUN} if colour else {_PNOUN, _FEATURE, _ORIGIN}
    before = {_PNOUN + _POST} if colour else {_PNOUN + _POST, _FEATURE + _POST, _ORIGIN + _POST}
    return _neighbour_has(s.items, k, 1, after, _SKIP_NEXT) or _neighbour_has(s.items, k, -1, before, _SKIP_PREV)


def _near_skin(s: _Sentence, k: int) -> bool:
    """A colour next to a skin word: "dark skin", "skin is fair", "dunkelhäutig", "peau mate", "tez morena"."""
    items = s.items
    for step in (1, -1):
        j, seen = k + step, 0
        while 0 <= j < len(items) and seen < 3 and not items[j].punct:
            if items[j].has(_SKIN):
                return True
            if not (items[j].roles & (_WALKABLE | {_COPULA}) or items[j].is_trait):
                break
            seen += 1
            j += step
    return False


def _bare(s: _Sentence, k: int) -> bool:
    """The value stands alone in its clause, as an item of a description: "30s, Hispanic, male"."""
    if s.clause_len(k) > _REACH:
        return False
    clause = s.clause_items(k)
    return len(clause) <= 6 and all(
        j == k or s.items[j].is_trait or s.items[j].roles & (_WALKABLE | {_PNOUN}) for j in clause
    )


def _decide(s: _Sentence, k: int, entry: _Entry) -> bool:
    """Does the value at item ``k`` state ``entry``'s category about a person?"""
    items = s.items
    it = items[k]
    section = entry.section
    if section == "label":
        return False  # labels are judged by _label_value
    if it.hyph_before and k and not items[k - 1].is_trait:
        return False  # "jet-black", "off-white", "semi-transparent"
    if it.hyph_after and k + 1 < len(items):
        nxt = items[k + 1]
        if nxt.has(_SKIN) or nxt.has(_FEATURE) or nxt.is_trait:
            return section != "place"  # "dark-skinned", "Asian-looking", "African-American"
        return False  # "black-haired", "white-balance", "Spanish-language"
    if section in ("colour", "skin") and _near_skin(s, k):
        return True
    if section == "skin":
        return False
    if section == "place":
        if not _neighbour_has(items, k, -1, {_FROM}, frozenset({_FILLER})):
            return False
        found = _predicate(s, k, strong=True)
        return found is not None and found[1] in ("person", "pro_drop")
    if _attributive(s, k, entry):
        return True
    strong = section == "strong"
    if section == "condition":
        return _has_condition(s, k)
    found = _predicate(s, k, strong=strong)
    if found is not None:
        verb, subject, walked = found
        if _blocked(items, walked):
            return False
        if subject == "person" or (subject == "feature" and entry.section != "colour"):
            return True
        if verb == _GUESS:
            return strong or s.person_evidence
        if subject == "pro_drop":
            return section != "colour" or s.person_evidence
        return strong and subject == "unknown"
    if _bare(s, k):
        return strong or s.person_evidence or s.described
    return False


def _has_condition(s: _Sentence, k: int) -> bool:
    """ "has / suffers from / with <condition>", said of a person (or of nobody named: "Has autism.")."""
    items = s.items
    j = k - 1
    while j >= 0 and k - j <= 5 and not items[j].punct:
        it = items[j]
        if it.has(_HAS):
            return _subject(s, j) in ("person", "unknown") or (it.has(_PRO_DROP) and _subject(s, j) != "thing")
        if not (it.roles & (_WALKABLE | {_FROM, _PRONOUN, _COPULA}) or it.is_trait):
            return False
        j -= 1
    n = k + 1  # verb last: "scheint eine Sehbehinderung zu haben"
    while n < len(items) and n - k <= 3 and not items[n].punct:
        if items[n].has(_HAS):
            return _subject(s, k) in ("person", "unknown")
        if not items[n].roles & _WALKABLE and items[n].text.lower() != "zu":
            break
        n += 1
    return _bare(s, k) and s.person_evidence


def _label_value(s: _Sentence, k: int) -> tuple[int, int] | None:
    """A category label with a value: "Ethnicity: Asian", "her religion is Islam", "Etnia = hispana".

    Returns the value's item range, or None when the label has no value, an empty one ("n/a", "not inferred")
    or a refusal, or is not a label at all ("inferring ethnicity is prohibited", "system health: ok").
    """
    items = s.items
    c = s.clause[k]
    if k - s.clause_start[c] > _REACH:
        return None
    before = [j for j in s.clause_items(k) if j < k]
    for j in before:
        b = items[j]
        if not (b.is_trait or b.roles & {_LABEL_PREFIX, _DESCRIPTOR_LABEL, _FILLER, _PRONOUN} or b.has(_PNOUN)):
            return None  # "system health:", "inferring ethnicity is ..."
    j = k + 1
    limit = min(len(items), k + _REACH)
    while j < limit and (
        items[j].punct in {'"', "'", "]", ")", "}", "»", "”", "("}
        or (not items[j].punct and items[j].roles & {_LABEL_PREFIX, _DESCRIPTOR_LABEL} and not items[j].has(_COPULA))
    ):
        j += 1  # "Origine probable :", "Ethnicity (estimated):"
    if j >= limit:
        return None
    if items[j].punct in {":", "=", "-"}:
        j += 1
    elif not items[j].punct and items[j].has(_COPULA):
        while j < limit and not items[j].punct and items[j].roles & {_COPULA, _FILLER}:
            j += 1
    else:
        return None
    while j < limit and items[j].punct in {'"', "'", "[", "(", "{", "«", "“"}:
        j += 1
    end = j
    while end < len(items) and end - j < _REACH and not items[end].punct:
        end += 1
    if end == j:
        return None
    value = items[j:end]
    if value[0].has(_EMPTY) or any(v.roles & _BLOCKERS for v in value):
        return None
    return j, end


_WORD_RE = re.compile(r"[^\W_]+")


def _may_hold_a_value(text: str) -> bool:
    """A cheap first look: does any word start a lexicon entry? Most answers name no trait at all, and this
    costs a tenth of reading them properly."""
    triggers = _lexicon().triggers
    for word in _WORD_RE.findall(_fold(text)):
        if word in triggers or (word.endswith("s") and word[:-1] in triggers):
            return True
        m = _COMPASS_RE.match(word)
        if m and word[m.end() :] in triggers:
            return True
    return False


def _matches_in_text(text: str, names: frozenset[str], path: str = "") -> list[SensitiveMatch]:
    found: list[SensitiveMatch] = []
    if not _may_hold_a_value(text):
        return found
    for items in _items(text, names):
        s = _Sentence(items)
        for k, it in enumerate(items):
            if not it.entries:
                continue
            if s.question or s.blocked_before(k):
                continue
            if s.meta[s.clause[k]] and s.blocked_clause(k):
                continue  # "inferring that she is Muslim from a face is prohibited"
            done: set[str] = set()
            for entry in it.entries:
                if entry.category in done:
                    continue
                if entry.section == "label":
                    span = _label_value(s, k)
                    if span is not None:
                        a, b = items[span[0]], items[span[1] - 1]
                        found.append(SensitiveMatch(entry.category, text[a.start : b.end], a.start, b.end, path))
                        done.add(entry.category)
                elif _decide(s, k, entry):
                    found.append(SensitiveMatch(entry.category, it.text, it.start, it.end, path))
                    done.add(entry.category)
                    s.person_evidence = True  # the rest of the sentence describes the same person
    return found


def _key_text(key: object) -> str:
    text = str(key)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text[:200])  # camelCase -> camel Case (bounded input)
    return text.replace("_", " ").replace(".", " ")


def _walk(value: object, names: frozenset[str], path: str, label: str, depth: int) -> list[SensitiveMatch]:
    """Structured answers: every string is read with the key it sits under ("ethnicity: South Asian")."""
    if depth > 50:
        return []
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump()
    out: list[SensitiveMatch] = []
    if isinstance(value, dict):
        for k, v in list(value.items())[:10_000]:
            key = _key_text(k)
            sub = f"{path}.{k}" if path else str(k)
            if v is True or (isinstance(v, int | float) and not isinstance(v, bool) and v):
                # a key that is true of the answer's subject ({"is_muslim": true}, {"pregnant": true})
                out += _matches_in_text(f"{label or 'person'}: {key}.", names, sub)
            elif isinstance(v, str | dict | list | tuple):
                out += _walk(v, names, sub, f"{label} {key}".strip() if label else key, depth + 1)
    elif isinstance(value, list | tuple):
        for n, v in enumerate(list(value)[:10_000]):
            out += _walk(v, names, f"{path}[{n}]", label, depth + 1)
    elif isinstance(value, str):
        text = value[:MAX_TEXT]
        if label:
            prefix = f"{label}: "
            out += [
                SensitiveMatch(m.category, m.value, max(0, m.start - len(prefix)), max(0, m.end - len(prefix)), path)
                for m in _matches_in_text(prefix + text, names, path)
            ]
        else:
            out += _matches_in_text(text, names, path)
    return out


def sensitive_inference_matches(answer: object, *, names: tuple[str, ...] = ()) -> list[SensitiveMatch]:
    """Every inference of a special-category value about a person in ``answer`` (see the module docstring).

    Args:
        answer: the text of an answer, or a structured answer (dict / list / pydantic model): every string
            value is read with its key as a label, every key with a true or non-zero value as a statement.
        names: subject ids of the conversation; a name is a person, never a value ("enrolled christian").
    """
    known = frozenset(n.lower() for n in names)
    if isinstance(answer, str) or answer is None:
        text = answer or ""
        if len(text) > MAX_TEXT:
            half = MAX_TEXT // 2
            head = _matches_in_text(text[:half], known)
            tail_at = len(text) - half
            tail = [
                SensitiveMatch(m.category, m.value, m.start + tail_at, m.end + tail_at)
                for m in _matches_in_text(text[tail_at:], known)
            ]
            found = head + tail
        else:
            found = _matches_in_text(text, known)
    else:
        found = _walk(answer, known, "", "", 0)
    seen: set[tuple[str, str, str]] = set()
    out: list[SensitiveMatch] = []
    for m in found:
        key = (m.category, m.value.lower(), m.path)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def sensitive_inferences(answer: object, *, names: tuple[str, ...] = ()) -> list[str]:
    """Category ids (see :data:`CATEGORIES`) of which ``answer`` states a value about a person; [] when none."""
    hit = {m.category for m in sensitive_inference_matches(answer, names=names)}
    return [cid for cid in CATEGORIES if cid in hit]


# --- requests ------------------------------------------------------------------------------------------


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
# "Which country is he from?", "where does she come from?": origin read off a face.
_ORIGIN_REQUEST = re.compile(
    rf"\b(?:which|what)\s+(?:country|countries|nation|continent|part\s+of\s+the\s+world)\b"
    rf"|\bwhere\s+(?:is|are|was|were|does|do|did)\s+{_WHO}\s+(?:\w+\s+){{0,2}}?(?:from|come\s+from|originally)\b"
    rf"|\b{_WHO}\s+(?:is|are|comes?|looks?)\s+(?:\w+\s+){{0,2}}?from\s+(?:which|what|where)\b",
    re.IGNORECASE,
)
_VALUE_QUESTIONS: dict[str, re.Pattern[str]] = {}


def _value_questions() -> dict[str, re.Pattern[str]]:
    """A yes/no question about a value: "is img1 black?", "is he Asian?", "does she look Muslim?"."""
    if not _VALUE_QUESTIONS:
        for cid in CATEGORIES:
            values = [w for s in ("strong", "ambiguous", "colour") for w in lexicon_words("en", cid, s)]
            _VALUE_QUESTIONS[cid] = re.compile(
                rf"\b(?:is|are|was|were|does|do|did)\s+{_WHO}\s+"
                rf"(?:(?:look|looks|seem|seems|appear|appears|to|be|like|a|an|of|really|actually|maybe|perhaps|in|"
                rf"the|img\s*\d+|image\s*\d+|photo|picture)\s+){{0,4}}(?:{_alternation(values)})\b",
                re.IGNORECASE,
            )
    return _VALUE_QUESTIONS


def requested_sensitive_attributes(text: str) -> list[str]:
    """Category ids (see :data:`CATEGORIES`) the text asks about, in catalogue order; [] when none."""
    text = (text or "")[:MAX_TEXT]
    found = [cid for cid, pattern in _REQUEST_RES.items() if pattern.search(text)]
    if "sex_life_or_sexual_orientation" not in found and _STRAIGHT_REQUEST.search(text):
        found.append("sex_life_or_sexual_orientation")
    if "health" not in found and _HEALTH_STATE_REQUEST.search(text):
        found.append("health")
    if "racial_or_ethnic_origin" not in found and _ORIGIN_REQUEST.search(text):
        found.append("racial_or_ethnic_origin")
    for cid, pattern in _value_questions().items():
        if cid not in found and pattern.search(text):
            found.append(cid)  # "is img1 black?", "is he Asian?": a yes/no question asks for the trait too
    return [cid for cid in CATEGORIES if cid in found]


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
    "TRAIT_WORDS",
    "SensitiveMatch",
    "lexicon_words",
    "requested_sensitive_attributes",
    "sensitive_inference_matches",
    "sensitive_inferences",
]
