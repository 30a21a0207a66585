"""Did the person say, in the conversation, that the use is now something else than the session's purpose?

"This is for our marketing campaign now", "das ist jetzt für unsere Marketingkampagne", "c'est pour notre campagne
publicitaire maintenant", "ahora es para nuestra campaña de marketing": the session's purpose was set by its caller
and never changes, but a person who says the use is now another one has told facegate that a check in this
conversation would serve that use. :func:`stated_purposes` finds such statements in a message (a use from
:mod:`agent.policy.purpose_phrases` with a marker shortly before it, "for", "für", "pour", "para", "purpose",
..., or "it's <use> now"), skipping negated ones ("not for marketing"), contrasts ("instead of marketing"),
conditions ("if we used it for marketing") and permission questions ("can we use it for marketing?").
:func:`reported_purpose` reads what a model reports the person stated. :func:`conflict` says whether a statement
differs from the session's purpose: "for access control as usual" restates an access-control session's purpose and
stops nothing. Decided by :func:`agent.policy.decide` (``purpose.conversation_mismatch``), never a way to change a
purpose.

Pure text work, linear in the input: words are found once and looked up in hash tables.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from agent.policy.models import StatedPurpose
from agent.policy.purpose_phrases import BLOCKERS, COPULAS, MARKERS, NOW_WORDS, PERMISSION_OPENINGS, USES

MAX_TEXT = 64 * 1024  # characters of one message that are read
_WINDOW = 6  # words between a marker and the use it introduces ("for our new social media marketing campaign")
_REACH = 12  # words before a use in which a negation or condition undoes it (keeps each look O(1))
_SENTENCE_RE = re.compile(r"[^.!?;\n]+[.!?;\n]?")
_TOKEN_RE = re.compile(r"[\w'’-]+|[,()\[\]\"«»“”]")
_CLAUSE_PUNCT = frozenset(',()[]"«»“”')
_CONTRAST = frozenset({"but", "aber", "sondern", "mais", "pero", "sino"})
_GOAL = (["le"], ["notre"], ["mon"], ["son"], ["leur"], ["du"])  # "le but": the goal, not a contrast
UNRECOGNISED = "a use the assistant could not name"

Phrase = tuple[str, ...]


def fold(text: str) -> str:
    """Lower case without accents, ``ß`` as ``ss``, curly apostrophes straight: how the phrase lists are written."""
    text = text.lower().replace("ß", "ss").replace("’", "'")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class _Table:
    """Phrases by first word (longest first), with the prefix entries ("marketing*") indexed by prefix."""

    def __init__(self, entries: Iterable[tuple[str, Any]]) -> None:
        self.by_first: dict[str, list[tuple[Phrase, bool, Any]]] = {}
        self.prefixes: dict[str, list[tuple[Phrase, Any]]] = {}  # single-word prefix entries
        for phrase, value in entries:
            prefix = phrase.endswith("*")
            words = tuple(phrase.rstrip("*").split())
            if prefix and len(words) == 1:
                self.prefixes.setdefault(words[0], []).append((words, value))
            else:
                self.by_first.setdefault(words[0], []).append((words, prefix, value))
        for options in self.by_first.values():
            options.sort(key=lambda o: -len(o[0]))
        self.longest_prefix = max((len(p) for p in self.prefixes), default=0)

    def match(self, words: Sequence[str], i: int) -> tuple[int, Any] | None:
        """The longest phrase starting at word ``i``: (number of words, value)."""
        for phrase, prefix, value in self.by_first.get(words[i], ()):
            n = len(phrase)
            if i + n > len(words):
                continue
            if all(words[i + k] == phrase[k] for k in range(n - 1)) and (
                words[i + n - 1].startswith(phrase[-1]) if prefix else words[i + n - 1] == phrase[-1]
            ):
                return n, value
        word = words[i]
        for cut in range(min(len(word), self.longest_prefix), 2, -1):  # bounded by the longest prefix entry
            for _, value in self.prefixes.get(word[:cut], ()):
                return 1, value
        return None

    def ends_at(self, words: Sequence[str], j: int) -> bool:
        """A phrase of this table ends at word ``j`` (phrases here are at most a few words long)."""
        for start in range(max(0, j - 3), j + 1):
            found = self.match(words, start)
            if found is not None and start + found[0] - 1 == j:
                return True
        return False


@lru_cache(maxsize=8)
def _uses(catalogue: tuple[str, ...]) -> _Table:
    """The use phrases, plus each catalogue purpose's own id ("ux_research", "ux research") for custom catalogues."""
    entries: list[tuple[str, Any]] = []
    for label, (purposes, phrases) in USES.items():
        kept = tuple(p for p in purposes if p in catalogue)
        entries += [(phrase, (label, kept)) for phrase in phrases]
    known = {phrase for _, (_, phrases) in USES.items() for phrase in phrases}
    for purpose in catalogue:
        for spelling in {purpose, purpose.replace("_", " ")}:
            if fold(spelling) not in known:
                entries.append((fold(spelling), (purpose.replace("_", " "), (purpose,))))
    return _Table(entries)


@lru_cache(maxsize=1)
def _words() -> tuple[_Table, _Table, _Table, _Table, _Table]:
    return (
        _Table((m, True) for m in MARKERS),
        _Table((w, True) for w in NOW_WORDS),
        _Table((c, True) for c in COPULAS),
        _Table((b, True) for b in BLOCKERS),
        _Table((p, True) for p in PERMISSION_OPENINGS),
    )


def _clauses(sentence: str) -> list[list[str]]:
    """The sentence's words, split into clauses at commas, brackets, quotes and "but"-words."""
    clauses: list[list[str]] = [[]]
    for m in _TOKEN_RE.finditer(sentence):
        token = m.group().strip("'-")
        contrast = token in _CONTRAST and not (token == "but" and clauses[-1][-1:] in _GOAL)  # French "le but"
        if not token or token in _CLAUSE_PUNCT or contrast:
            if clauses[-1]:
                clauses.append([])
            continue
        clauses[-1].append(token[:64])
    return [c for c in clauses if c]


def _negated(word: str) -> bool:
    return word.endswith("n't") or word.startswith("n'")


def _statement(clause: list[str], start: int, end: int) -> bool:
    """Does the use at words ``start``..``end`` of ``clause`` state what the conversation is for?"""
    markers, now, copulas, blockers, _ = _words()
    before = range(max(0, start - _REACH), start)
    if any(blockers.ends_at(clause, j) or _negated(clause[j]) for j in before):
        return False  # "not for marketing", "instead of marketing", "if we used it for marketing"
    if any(markers.ends_at(clause, j) for j in range(max(0, start - _WINDOW), start)):
        return True
    # "it's marketing now", "c'est du marketing maintenant", "now it's marketing"
    copula = any(copulas.ends_at(clause, j) for j in range(max(0, start - 3), start))
    around = [j for j in range(max(0, start - _WINDOW), min(len(clause), end + _WINDOW)) if not start <= j < end]
    return copula and any(now.match(clause, j) is not None for j in around)


def stated_purposes(text: str, catalogue: Iterable[str]) -> list[StatedPurpose]:
    """Every use ``text`` states for the conversation, in order (see the module docstring); [] when none.

    Args:
        text: one message of the person.
        catalogue: the purpose ids of the policy in force (a use maps only to these).
    """
    uses = _uses(tuple(sorted(catalogue)))
    permission = _words()[4]
    found: list[StatedPurpose] = []
    for m in _SENTENCE_RE.finditer(fold(text[:MAX_TEXT])):
        sentence = m.group()
        clauses = _clauses(sentence)
        if not clauses:
            continue
        if sentence.rstrip().endswith("?") and any(
            permission.ends_at(clauses[0], j) for j in range(min(3, len(clauses[0])))
        ):
            continue  # "can we use it for marketing?": a question, not a statement
        for clause in clauses:
            i = 0
            while i < len(clause):
                hit = uses.match(clause, i)
                if hit is None:
                    i += 1
                    continue
                n, (label, purposes) = hit
                if _statement(clause, i, i + n) and not (found and found[-1].label == label):
                    found.append(StatedPurpose(label=label, purposes=purposes, source="person"))
                i += n
    return found


def reported_purpose(text: str, catalogue: Iterable[str]) -> StatedPurpose:
    """What a model reports the person stated, as policy reads it: the uses its words name (no marker needed),
    else an unrecognised use (which covers no purpose). The label comes from the phrase list, never the report."""
    uses = _uses(tuple(sorted(catalogue)))
    labels: list[str] = []
    purposes: list[str] = []
    words = [w for clause in _clauses(fold(text[:2000])) for w in clause]
    i = 0
    while i < len(words):
        hit = uses.match(words, i)
        if hit is None:
            i += 1
            continue
        label, maps = hit[1]
        labels.append(label)
        purposes += [p for p in maps if p not in purposes]
        i += hit[0]
    if not labels:
        return StatedPurpose(label=UNRECOGNISED, purposes=(), source="model")
    return StatedPurpose(label=" and ".join(dict.fromkeys(labels))[:80], purposes=tuple(purposes), source="model")


def conflict(statements: Iterable[StatedPurpose], purpose: str) -> StatedPurpose | None:
    """The first statement that is not about ``purpose`` (the session's), or None when all restate it."""
    return next((s for s in statements if not s.restates(purpose)), None)


def mismatch_reason(stated: StatedPurpose, purpose: str) -> str:
    """The reason a person reads when the session's tool calls stop: what was said and what they can do."""
    who = "The person said" if stated.source == "person" else "The assistant reported that the person said"
    if len(stated.purposes) == 1:
        way = f"start a new conversation with the purpose {stated.purposes[0]}"
    elif stated.purposes:
        way = f"start a new conversation with the purpose it is for ({' or '.join(stated.purposes)})"
    else:
        way = f"no purpose in the catalogue covers {stated.label}, so facegate cannot be used for it"
    return (
        f"{who} this conversation is now for {stated.label}, not {purpose} (the purpose it was started for). "
        f"No tool runs in it any more: {way}."
    )


__all__ = ["MAX_TEXT", "UNRECOGNISED", "conflict", "fold", "mismatch_reason", "reported_purpose", "stated_purposes"]
