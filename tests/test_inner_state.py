"""Inner-state claims are rewritten to appearance wording with the caveat (agent/policy/inner_state.py)."""

from __future__ import annotations

import pytest

from agent.policy.inner_state import CAVEATS, find_inner_state_claims, rewrite_inner_state
from tools.results import EXPRESSION_CAVEAT

TRUTH = "A facial expression cannot show whether someone is telling the truth."
# (claim, the rewritten first paragraph, kind)
REWRITES = [
    ("She is really happy.", "Her expression looks happy.", "emotion"),
    ("he is not lying", TRUTH, "honesty"),
    ("She feels anxious.", "Her expression looks anxious.", "emotion"),
    ("Er ist traurig.", "Sein Gesichtsausdruck wirkt traurig.", "emotion"),
    ("Elle est contente.", "Son expression semble contente.", "emotion"),
    ("Está nerviosa.", "Su expresión parece nerviosa.", "emotion"),
    ("She isn't happy at all.", "Her expression does not look happy at all.", "emotion"),
    ("she's happy today", "Her expression looks happy today", "emotion"),
    ("He is genuinely afraid.", "His expression looks afraid.", "emotion"),
    ("They are clearly stressed.", "Their expression looks stressed.", "emotion"),
    (
        "The woman in the photo is clearly upset.",
        "The woman in the photo has an expression that looks upset.",
        "emotion",
    ),
    ("The person in img1 is very nervous.", "The person in img1 has an expression that looks nervous.", "emotion"),
    ("He looks sad but he is actually happy.", "He looks sad but his expression looks happy.", "emotion"),
    ("She is telling the truth.", TRUTH, "honesty"),
    ("I think he is lying.", TRUTH, "honesty"),
    (
        "He is being honest with you.",
        "A facial expression cannot show whether someone is telling the truth.",
        "honesty",
    ),
    (
        "Verified. She is probably nervous about the check.",
        "Verified. Her expression looks nervous about the check.",
        "emotion",
    ),
    ("He must feel relaxed.", "His expression looks relaxed.", "emotion"),
    ("Sie fühlt sich einsam.", "Ihr Gesichtsausdruck wirkt einsam.", "emotion"),
    ("Er ist nicht traurig, aber müde.", "Sein Gesichtsausdruck wirkt nicht traurig, aber müde.", "emotion"),
    ("Sie ist wirklich glücklich.", "Ihr Gesichtsausdruck wirkt glücklich.", "emotion"),
    ("Die Frau ist sichtlich nervös.", "Die Frau hat einen Gesichtsausdruck, der nervös wirkt.", "emotion"),
    ("Er lügt nicht.", "Ein Gesichtsausdruck zeigt nicht, ob jemand die Wahrheit sagt.", "honesty"),
    ("Sie sagt die Wahrheit.", "Ein Gesichtsausdruck zeigt nicht, ob jemand die Wahrheit sagt.", "honesty"),
    ("Elle n'est pas contente.", "Son expression ne semble pas contente.", "emotion"),
    ("Il se sent stressé.", "Son expression semble stressée.", "emotion"),
    ("Il est vraiment heureux.", "Son expression semble heureuse.", "emotion"),
    ("La femme est en colère.", "La femme a une expression qui semble en colère.", "emotion"),
    ("Il ne ment pas.", "Une expression faciale ne montre pas si quelqu'un dit la vérité.", "honesty"),
    ("Elle dit la vérité.", "Une expression faciale ne montre pas si quelqu'un dit la vérité.", "honesty"),
    ("No está nerviosa.", "Su expresión no parece nerviosa.", "emotion"),
    ("Ella se siente tranquila.", "Su expresión parece tranquila.", "emotion"),
    ("Él está muy contento.", "Su expresión parece contenta.", "emotion"),
    ("Probablemente está asustado.", "Probablemente su expresión parece asustada.", "emotion"),
    ("La mujer está enfadada.", "La mujer tiene una expresión que parece enfadada.", "emotion"),
    ("No miente.", "Una expresión facial no muestra si alguien dice la verdad.", "honesty"),
    ("Ella dice la verdad.", "Una expresión facial no muestra si alguien dice la verdad.", "honesty"),
]

APPEARANCE = [
    "Face 1 (box x=10, y=20, 100x120 px) looks happy (97%); next most likely: neutral 2%, surprise 1%.",
    "The dominant expression is happy (an appearance-based estimate).",
    "The person in img1 appears calm.",
    "She looks surprised (71%).",
    "His expression looks neutral.",
    "The image is sad quality, please retake it.",
    "The threshold is relaxed for customer service? No, it is the model's own.",
    "Verified: the face in img1 matches the enrolled template of alice.",
    "I am happy to help with another check.",
    "We are happy to run it again.",
    "Der Gesichtsausdruck wirkt traurig (64 %).",
    "Das Ergebnis ist eindeutig.",
    "Ich bin froh, dass es geklappt hat.",
    "Son expression semble heureuse (88 %).",
    "Le résultat est négatif.",
    "Je suis content de vous aider.",
    "Su expresión parece alegre (90 %).",
    "La expresión es alegre.",
    "El resultado es negativo.",
    "The lighting is calm and even.",
    "The result is not what you hoped: no match.",
    "You can tell me whether the photo is recent.",
    "The smile is broad and the eyes are open.",
    "Die Person wirkt ruhig.",
    "La persona parece tranquila.",
]


@pytest.mark.parametrize(("text", "rewritten", "kind"), REWRITES, ids=[r[0][:40] for r in REWRITES])
def test_inner_state_claims_are_rewritten_to_appearance(text: str, rewritten: str, kind: str) -> None:
    result = rewrite_inner_state(text)
    assert result.changed
    assert [c.kind for c in result.claims] == [kind]
    first, _, caveat = result.text.partition("\n\n")
    assert first == rewritten
    assert caveat in CAVEATS.values()
    claim = result.claims[0]
    assert text[claim.start : claim.end] == claim.text


@pytest.mark.parametrize("text", APPEARANCE)
def test_appearance_statements_and_the_speakers_own_state_are_left_alone(text: str) -> None:
    result = rewrite_inner_state(text)
    assert not result.changed
    assert result.text == text
    assert find_inner_state_claims(text) == []


def test_the_caveat_is_the_engines_and_is_added_once() -> None:
    assert EXPRESSION_CAVEAT in CAVEATS["en"]
    result = rewrite_inner_state("She is happy. He is sad.")
    assert result.text.count("Caveat:") == 1
    assert len(result.claims) == 2 and result.caveat_added
    already = f"She is happy.\n\nCaveat: this is an {EXPRESSION_CAVEAT}."
    kept = rewrite_inner_state(already)
    assert kept.changed and not kept.caveat_added and kept.text.count("Caveat:") == 1


def test_negation_is_kept_in_the_rewording() -> None:
    claims = find_inner_state_claims("She is not angry, and he isn't scared.")
    assert [(c.negated, c.replacement) for c in claims] == [
        (True, "Her expression does not look angry"),
        (True, "his expression does not look scared"),
    ]


def test_every_language_is_covered() -> None:
    languages = [rewrite_inner_state(text).claims[0].language for text, _, _ in REWRITES]
    print(f"\ninner-state: {len(REWRITES)} claims rewritten, {len(APPEARANCE)} appearance texts left alone")
    assert {lang: languages.count(lang) >= 6 for lang in ("en", "de", "fr", "es")} == dict.fromkeys(
        ("en", "de", "fr", "es"), True
    )
