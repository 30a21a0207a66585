"""The lexicon's data files (agent/policy/lexicon) are well-formed, complete and read the same by YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.policy.sensitive_lexicon import CATEGORIES, LANGUAGES, TRAIT_WORDS, _expand, _read_lists, lexicon_words

LEXICON = Path(__file__).parent.parent / "agent" / "policy" / "lexicon"
FILES = sorted(LEXICON.glob("*/*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_every_file_reads_the_same_with_yaml(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert {k: [str(v).lower() for v in vs] for k, vs in data.items()} == _read_lists(str(path))
    for entries in data.values():
        assert all(isinstance(v, str) and v == v.strip() for v in entries)


def test_every_language_has_every_category_and_a_context_file() -> None:
    for lang in LANGUAGES:
        names = {p.stem for p in (LEXICON / lang).glob("*.yaml")}
        assert names == {*CATEGORIES, "context"}, lang
        for cid in CATEGORIES:
            assert lexicon_words(lang, cid, "label"), (lang, cid)  # every category can be named as a label


def test_inflections_expand_and_trait_words_include_every_language() -> None:
    assert _expand("mexican(o|a|os|as)") == ["mexicano", "mexicana", "mexicanos", "mexicanas"]
    assert _expand("türkisch(|e|er)") == ["türkisch", "türkische", "türkischer"]
    assert {"asian", "muslimisch", "musulmane", "musulmana", "caucasian"} <= TRAIT_WORDS
