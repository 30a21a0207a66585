"""The sensitive-inference guard against its corpus (tests/data/sensitive_corpus/*.tsv), in four languages.

Every line is one parametrised case: a text that states a special category about a person must be reported
with exactly its categories; an ordinary sentence about faces, photos and results must pass. The summary test
prints caught / passed per language and category (run with ``-s`` to see it).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from agent.policy.sensitive import CATEGORIES, sensitive_inferences

CORPUS = Path(__file__).parent / "data" / "sensitive_corpus"
SHORT = {
    "race": "racial_or_ethnic_origin",
    "religion": "religious_or_philosophical_beliefs",
    "politics": "political_opinions",
    "sex": "sex_life_or_sexual_orientation",
    "health": "health",
    "union": "trade_union_membership",
}
assert set(SHORT.values()) == set(CATEGORIES)


def _cases() -> list[tuple[str, int, list[str], str]]:
    cases = []
    for path in sorted(CORPUS.glob("*.tsv")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            expected, _, text = line.partition("\t")
            cats = [] if expected == "-" else [SHORT[c] for c in expected.split(",")]
            cases.append((path.stem, n, [c for c in CATEGORIES if c in cats], text))
    return cases


CASES = _cases()


def _check(text: str) -> list[str]:
    answer: object = json.loads(text[5:]) if text.startswith("json:") else text
    return sensitive_inferences(answer)


@pytest.mark.parametrize(("lang", "line", "expected", "text"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_corpus_line(lang: str, line: int, expected: list[str], text: str) -> None:
    assert _check(text) == expected, f"{lang}.tsv line {line}: {text}"


def test_corpus_size_and_summary() -> None:
    caught: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    misses: list[str] = []
    for lang, line, expected, text in CASES:
        got = _check(text)
        for cid in expected or ["(must pass)"]:
            total[(lang, cid)] += 1
            ok = (cid in got) if expected else not got
            caught[(lang, cid)] += ok
        if got != expected:
            misses.append(f"{lang}:{line} expected {expected or '-'} got {got or '-'}: {text}")
    print("\nlanguage  category                              ok/total")
    for key in sorted(total):
        print(f"{key[0]:<9} {key[1]:<37} {caught[key]}/{total[key]}")
    must_catch = sum(1 for c in CASES if c[2])
    must_pass = sum(1 for c in CASES if not c[2])
    print(f"must catch: {must_catch}, must pass: {must_pass}, wrong: {len(misses)}")
    for m in misses:
        print("  MISS", m)
    assert must_catch >= 300 and must_pass >= 300
    assert {c[0] for c in CASES} == {"en", "de", "fr", "es"}
