"""Does a request ask about a special category ("what religion is he?", "is img1 disabled?")?

:func:`requested_sensitive_attributes` is how the offline reasoner maps such a request to ``infer_attributes``, so
that policy refuses it with a rule id. A category is asked about when a word of it appears (its name or a value:
"race", "muslim"), a health state is said of a person ("is img1 disabled?", not "policy checks are disabled"),
an origin question is asked ("which country is he from?"), or a yes/no question names a value of the lexicon
("is he Asian?"). Every pattern is a bounded alternation (linear in the input).

Pure: imports only ``re`` and :mod:`agent.policy.sensitive_lexicon`.
"""

from __future__ import annotations

import re

from agent.policy.sensitive_lexicon import CATEGORIES, MAX_TEXT, lexicon_words


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


__all__ = ["requested_sensitive_attributes"]
