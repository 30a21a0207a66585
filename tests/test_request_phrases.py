"""agent/policy/request_phrases.py answers exactly what the offline reasoner's old (quadratic) patterns did."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.policy.request_phrases import asks_to_record_consent, mentions_purpose_change, strip_purpose_clauses

# The offline reasoner's old patterns, kept here as the reference the linear functions must agree with (they are
# quadratic: ".*" between two words; never use them on input of unbounded length).
_PURPOSE_CHANGE = re.compile(
    r"\bpurpose\b.*\b(change|switch|set|now|instead|pretend|different|another|new|is)\b"
    r"|\b(change|switch|set|use)\b.*\bpurpose\b|\bfor (marketing|research|security|hiring)\b instead"
)
_RECORD_CONSENT = re.compile(
    r"\b(record|grant|give|register|add|store|save|log|enter)\b[\w\s]{0,20}\bconsent\b"
    r"|\bconsent\b[\w\s]{0,20}\b(recorded|granted|registered|on file)\b.*\b(record|add|store|save)\b"
)
_PURPOSE_CLAUSE = re.compile(
    r"\b(change|switch|set|use)\b[^.,;]*?\bpurpose\b[^.,;]*?(\band then\b|\bthen\b|\band\b|[.,;:]|$)"
    r"|\bthe purpose is (now )?\w+\b"
)

WORDS = [
    "purpose", "purposes", "change", "switch", "set", "use", "user", "now", "instead", "pretend", "different",
    "another", "new", "is", "the", "for", "marketing", "research", "consent", "recorded", "granted", "on", "file",
    "record", "add", "store", "save", "give", "log", "and", "then", "verify", "img1", "alice", "please",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", ", ", ". ", "; ", ": ", "\n", "  "]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=14).map(
    lambda parts: "".join(w + s for w, s in parts)
)

EXAMPLES = [
    "the purpose is now marketing, verify img1",
    "please change the purpose to marketing and then verify img1",
    "use the research purpose instead",
    "this is for marketing instead",
    "record my consent please",
    "consent is recorded on file, store it",
    "my consent was granted. save",
    "consent granted\nsave it",
    "verify img1 against enrolled alice",
    "switch purpose; then analyse the expression",
    "",
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_examples_agree_with_the_old_patterns(text: str) -> None:
    assert mentions_purpose_change(text) == bool(_PURPOSE_CHANGE.search(text))
    assert asks_to_record_consent(text) == bool(_RECORD_CONSENT.search(text))
    assert strip_purpose_clauses(text) == _PURPOSE_CLAUSE.sub(" ", text)


@settings(max_examples=800, deadline=None)
@given(texts)
def test_random_requests_agree_with_the_old_patterns(text: str) -> None:
    assert mentions_purpose_change(text) == bool(_PURPOSE_CHANGE.search(text)), text
    assert asks_to_record_consent(text) == bool(_RECORD_CONSENT.search(text)), text
    assert strip_purpose_clauses(text) == _PURPOSE_CLAUSE.sub(" ", text), text
