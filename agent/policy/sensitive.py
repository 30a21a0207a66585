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

Category ids are stable (audited); the matched text never is. Three pure modules, one concern each: the
lexicon and its reading (:mod:`agent.policy.sensitive_lexicon`), the answer rules (this module) and the request
patterns (:mod:`agent.policy.sensitive_requests`); this one re-exports the others' public names. They import
only ``re``, ``dataclasses`` and each other (a test checks it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.policy.sensitive_lexicon import (
    _BLOCKERS,
    _COME,
    _COMPASS_RE,
    _CONTRAST,
    _COPULA,
    _DESCRIPTOR_LABEL,
    _EMPTY,
    _FEATURE,
    _FILLER,
    _FIRST,
    _FROM,
    _GENDER,
    _GUESS,
    _HAS,
    _LABEL_PREFIX,
    _LIST,
    _META,
    _ORIGIN,
    _PERSON_REF,
    _PNOUN,
    _POSSESSIVE,
    _POST,
    _PREPOSITION,
    _PRO_DROP,
    _PRONOUN,
    _SKIN,
    _SUB,
    _THING,
    _VERBS,
    _WALKABLE,
    CATEGORIES,
    CATEGORY_NAMES,
    LANGUAGES,
    MAX_TEXT,
    _Entry,
    _fold,
    _Item,
    _items,
    _lexicon,
    lexicon_words,
)
from agent.policy.sensitive_requests import requested_sensitive_attributes

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


def __getattr__(name: str) -> object:
    # the word lists are read from the lexicon on first use (PEP 562): importing this module reads no file
    if name in ("TRAIT_WORDS", "DEMONYMS", "CONDITIONS"):
        from agent.policy import sensitive_lexicon

        return getattr(sensitive_lexicon, name)
    raise AttributeError(name)


TRAIT_WORDS: frozenset[str]  # see agent.policy.sensitive_lexicon
DEMONYMS: tuple[str, ...]
CONDITIONS: tuple[str, ...]

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "CONDITIONS",
    "DEMONYMS",
    "LANGUAGES",
    "MAX_TEXT",
    "TRAIT_WORDS",
    "SensitiveMatch",
    "lexicon_words",
    "requested_sensitive_attributes",
    "sensitive_inference_matches",
    "sensitive_inferences",
]
