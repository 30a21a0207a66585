"""Three phrases the offline reasoner looks for in a request, found in time linear in the request's length.

The offline reasoner (``agent/reasoners/offline.py``) found them with regular expressions whose ``.*`` between
two words made them quadratic: on 64 KB of "use use use ..." ``_PURPOSE_CHANGE`` took 23 s, ``_PURPOSE_CLAUSE``
29 s and ``_RECORD_CONSENT`` 12 s. These functions answer the same questions (a property test checks them
against the old patterns on short inputs) with one linear pass each: every word is found once with a bounded
pattern, and "A somewhere after B on the same line" is decided from positions, never by backtracking.

The wiring (next wave) replaces, in ``offline.py``: ``_RECORD_CONSENT.search(text)`` with
:func:`asks_to_record_consent`, ``_PURPOSE_CHANGE.search(text)`` with :func:`mentions_purpose_change`,
``_PURPOSE_CLAUSE.sub(" ", text)`` with :func:`strip_purpose_clauses`.
"""

from __future__ import annotations

import bisect
import re

MAX_REQUEST = 64 * 1024  # characters of one request that are read; the rest cannot change what is asked

_PURPOSE = re.compile(r"\bpurpose\b")
_AFTER_PURPOSE = re.compile(r"\b(?:change|switch|set|now|instead|pretend|different|another|new|is)\b")
_BEFORE_PURPOSE = re.compile(r"\b(?:change|switch|set|use)\b")
_FOR_INSTEAD = re.compile(r"\bfor (?:marketing|research|security|hiring)\b instead")
_RECORD_VERB_CONSENT = re.compile(r"\b(?:record|grant|give|register|add|store|save|log|enter)\b[\w\s]{0,20}\bconsent\b")
_CONSENT_RECORDED = re.compile(r"\bconsent\b[\w\s]{0,20}?\b(?:recorded|granted|registered|on file)\b")
_CONSENT = re.compile(r"\bconsent\b")
_RECORD_WORD = re.compile(r"\b(?:record|add|store|save)\b")
_PURPOSE_IS = re.compile(r"\bthe purpose is (?:now )?\w+\b")
_CLAUSE_END = re.compile(r"\band then\b|\bthen\b|\band\b|[.,;:]|$")
_SEGMENT_BREAK = re.compile(r"[.,;]")


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line: ``.`` in the old patterns never crossed a newline."""
    spans, start = [], 0
    for m in re.finditer(r"\n", text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def mentions_purpose_change(text: str) -> bool:
    """True where the old ``_PURPOSE_CHANGE`` matched: "purpose" followed on its line by change / switch / set /
    now / instead / pretend / different / another / new / is; change / switch / set / use followed by "purpose";
    or "for marketing|research|security|hiring instead"."""
    text = text[:MAX_REQUEST]
    if _FOR_INSTEAD.search(text):
        return True
    for start, end in _lines(text):
        purposes = [m.start() for m in _PURPOSE.finditer(text, start, end)]
        if not purposes:
            continue
        first, last = purposes[0], purposes[-1]
        # a word of the first set anywhere after the first "purpose" ends
        if _AFTER_PURPOSE.search(text, first + len("purpose"), end):
            return True
        # a word of the second set that starts before the last "purpose"
        m = _BEFORE_PURPOSE.search(text, start, end)
        if m is not None and m.end() <= last:
            return True
    return False


def asks_to_record_consent(text: str) -> bool:
    """True where the old ``_RECORD_CONSENT`` matched: a recording verb shortly before "consent", or "consent
    ... recorded / granted / registered / on file" followed on its line by record / add / store / save."""
    text = text[:MAX_REQUEST]
    if _RECORD_VERB_CONSENT.search(text):
        return True
    newlines = [m.start() for m in re.finditer(r"\n", text)]
    earliest: dict[int, int] = {}  # line number -> earliest end of a "consent ... recorded" on it
    for c in _CONSENT.finditer(text):
        m = _CONSENT_RECORDED.match(text, c.start())  # bounded: at most ~40 characters from c
        if m is not None:
            line = bisect.bisect_left(newlines, m.end())
            earliest[line] = min(m.end(), earliest.get(line, m.end()))
    for line, end_at in earliest.items():
        line_end = newlines[line] if line < len(newlines) else len(text)
        if _RECORD_WORD.search(text, end_at, line_end):
            return True
    return False


def strip_purpose_clauses(text: str) -> str:
    """What the old ``_PURPOSE_CLAUSE.sub(" ", text)`` returned: each "change|switch|set|use ... purpose ..."
    clause (up to "and then", "then", "and", punctuation or the end) and each "the purpose is [now] <word>"
    replaced by a space, leftmost first."""
    text = text[:MAX_REQUEST]
    purposes = [m.start() for m in _PURPOSE.finditer(text)]
    breaks = [m.start() for m in _SEGMENT_BREAK.finditer(text)]
    verbs = [(m.start(), m.end()) for m in _BEFORE_PURPOSE.finditer(text)]
    phrases = [m.start() for m in re.finditer(r"\bthe purpose is ", text)]
    candidates = sorted([(v[0], 0, v[1]) for v in verbs] + [(p, 1, p) for p in phrases])
    out: list[str] = []
    pos = 0
    for at, kind, verb_end in candidates:
        if at < pos:
            continue
        span: tuple[int, int] | None = None
        if kind == 0:
            segment_end = (
                breaks[bisect.bisect_left(breaks, verb_end)] if breaks and breaks[-1] >= verb_end else len(text)
            )
            n = bisect.bisect_left(purposes, verb_end)
            if n < len(purposes) and purposes[n] < segment_end:
                found = _CLAUSE_END.search(text, purposes[n] + len("purpose"))
                if found is not None:
                    span = (at, found.end())
        else:
            m = _PURPOSE_IS.match(text, at)
            if m is not None:
                span = (at, m.end())
        if span is not None:
            out.append(text[pos : span[0]])
            out.append(" ")
            pos = span[1]
    out.append(text[pos:])
    return "".join(out)


__all__ = ["MAX_REQUEST", "asks_to_record_consent", "mentions_purpose_change", "strip_purpose_clauses"]
