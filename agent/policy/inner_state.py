"""Claims about a person's inner state, found and rewritten to what expression analysis can say: appearance.

Expression results describe how a face looks ("looks happy (97%)"), never what someone feels or whether they
tell the truth. A reasoner, offline or Gemini, may still write "she is really happy", "he is not lying", "she
feels anxious", "er ist traurig", "elle est contente", "está nerviosa". :func:`rewrite_inner_state` rewrites
each such claim to appearance wording in the same language ("her expression looks happy", "sein
Gesichtsausdruck wirkt traurig", "son expression semble contente", "su expresión parece nerviosa"), replaces a
claim about honesty by the statement that a face cannot show it, and appends the caveat of
:data:`tools.results.EXPRESSION_CAVEAT` once. Appearance statements ("looks happy", "the dominant expression is
happy", "appears calm") are left alone.

Pure text work; every pattern is a bounded alternation (linear in the input).
"""

from __future__ import annotations

import bisect
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tools.results import EXPRESSION_CAVEAT

Language = Literal["en", "de", "fr", "es"]
MAX_TEXT = 200_000
RULE_ID = "answer.inner_state_claim"  # the rule id the wiring audits a rewrite under

# state word -> the form that agrees with "expression" (fr/es: feminine); en/de predicatives do not inflect
# fmt: off
_STATES: dict[Language, dict[str, str]] = {
    "en": {w: w for w in (
        "happy", "sad", "angry", "afraid", "scared", "fearful", "frightened", "anxious", "nervous", "stressed",
        "disgusted", "surprised", "calm", "relaxed", "content", "joyful", "upset", "worried", "frustrated",
        "annoyed", "bored", "excited", "lonely", "confident", "uncomfortable", "uneasy", "furious", "miserable",
        "unhappy", "cheerful", "delighted", "terrified", "embarrassed", "ashamed", "guilty", "jealous", "tense",
        "irritated", "hopeful", "grateful", "pleased", "satisfied", "at ease", "in love", "heartbroken",
    )},
    "de": {w: w for w in (
        "glücklich", "froh", "fröhlich", "traurig", "wütend", "verärgert", "ängstlich", "nervös", "gestresst",
        "besorgt", "entspannt", "ruhig", "zufrieden", "überrascht", "angeekelt", "gelangweilt", "aufgeregt",
        "einsam", "unglücklich", "verängstigt", "beunruhigt", "gereizt", "verliebt", "erleichtert", "enttäuscht",
        "verzweifelt", "unsicher", "selbstbewusst", "frustriert",
    )},
    "fr": {
        "heureux": "heureuse", "heureuse": "heureuse", "content": "contente", "contente": "contente",
        "triste": "triste", "en colère": "en colère", "fâché": "fâchée", "fâchée": "fâchée", "énervé": "énervée",
        "énervée": "énervée", "anxieux": "anxieuse", "anxieuse": "anxieuse", "nerveux": "nerveuse",
        "nerveuse": "nerveuse", "stressé": "stressée", "stressée": "stressée", "inquiet": "inquiète",
        "inquiète": "inquiète", "détendu": "détendue", "détendue": "détendue", "calme": "calme",
        "surpris": "surprise", "surprise": "surprise", "dégoûté": "dégoûtée", "dégoûtée": "dégoûtée",
        "effrayé": "effrayée", "effrayée": "effrayée", "apeuré": "apeurée", "apeurée": "apeurée",
        "ennuyé": "ennuyée", "ennuyée": "ennuyée", "joyeux": "joyeuse", "joyeuse": "joyeuse",
        "malheureux": "malheureuse", "malheureuse": "malheureuse", "soulagé": "soulagée", "soulagée": "soulagée",
        "déçu": "déçue", "déçue": "déçue", "amoureux": "amoureuse", "amoureuse": "amoureuse",
        "furieux": "furieuse", "furieuse": "furieuse", "tendu": "tendue", "tendue": "tendue",
    },
    "es": {
        **{f"{stem}{end}": f"{stem}a" for stem in (
            "content", "enfadad", "enojad", "furios", "ansios", "nervios", "estresad", "preocupad", "relajad",
            "tranquil", "sorprendid", "asustad", "aburrid", "asquead", "emocionad", "decepcionad", "aliviad",
            "enamorad", "angustiad", "inquiet", "tens", "avergonzad", "celos", "molest", "irritad",
        ) for end in ("o", "a", "os", "as")},
        "feliz": "feliz", "felices": "feliz", "alegre": "alegre", "alegres": "alegre", "triste": "triste",
        "tristes": "triste",
    },
}
# fmt: on
_ADVERBS: dict[Language, str] = {
    "en": r"really|truly|genuinely|actually|clearly|definitely|obviously|certainly|very|quite|so|deeply|"
    r"extremely|rather|a\s+bit|somewhat|probably|likely|visibly|evidently|surely|pretty|incredibly|fairly",
    "de": r"wirklich|echt|tatsächlich|sehr|ziemlich|eindeutig|offensichtlich|sicher|wohl|total|richtig|ganz|so|"
    r"sichtlich|vermutlich|wahrscheinlich|zutiefst|äußerst|eher|etwas",
    "fr": r"vraiment|très|clairement|manifestement|sûrement|bien|tout\s+à\s+fait|assez|plutôt|si|visiblement|"
    r"profondément|sans\s+doute|probablement|franchement|extrêmement|un\s+peu",
    "es": r"realmente|muy|claramente|bastante|de\s+verdad|verdaderamente|seguramente|tan|visiblemente|"
    r"profundamente|sin\s+duda|probablemente|sumamente|un\s+poco|algo",
}
_VERBS: dict[Language, str] = {
    "en": r"isn['’]t|aren['’]t|wasn['’]t|weren['’]t|doesn['’]t\s+feel|is|are|was|were|['’]s|feels|feel|felt|"
    r"(?:is|are|was|were)\s+feeling|must\s+be|must\s+feel",
    "de": r"ist|sind|war|waren|fühlt\s+sich|fühlte\s+sich|fühlen\s+sich",
    "fr": r"est|sont|était|étaient|se\s+sent|se\s+sentait|se\s+sentent|ressent",
    "es": r"está|están|estaba|estaban|es|son|era|se\s+siente|se\s+sentía|se\s+sienten",
}
_NEG_BEFORE: dict[Language, str] = {"en": "", "de": "", "fr": r"n['’]\s*|ne\s+", "es": r"no\s+"}
_NEG_AFTER: dict[Language, str] = {"en": r"not|n['’]t", "de": r"nicht|kein", "fr": r"pas", "es": ""}
# Subjects that name a person: the claim is about someone's inner state. Checked on the words before the verb.
_SUBJECTS: dict[Language, str] = {
    "en": r"she|he|they|you|the\s+(?:person|man|woman|boy|girl|child|participant|customer|employee|subject|user|"
    r"visitor|patient|candidate)(?:\s+(?:in|on)\s+(?:the\s+)?(?:img\s*\d+|image|photo|picture)(?:\s*\d+)?)?"
    r"|img\d+|image\s*\d+",
    "de": r"sie|er|die\s+person|der\s+mann|die\s+frau|das\s+kind|der\s+junge|das\s+mädchen|der\s+kunde|die\s+kundin|"
    r"der\s+mitarbeiter|die\s+mitarbeiterin|der\s+teilnehmer|die\s+teilnehmerin|img\d+",
    "fr": r"elle|il|elles|ils|la\s+personne|l['’]homme|la\s+femme|l['’]enfant|le\s+garçon|la\s+fille|le\s+client|"
    r"la\s+cliente|l['’]employé|l['’]employée|le\s+participant|la\s+participante|img\d+",
    "es": r"ella|él|ellos|ellas|la\s+persona|el\s+hombre|la\s+mujer|el\s+niño|la\s+niña|el\s+cliente|la\s+clienta|"
    r"el\s+empleado|la\s+empleada|el\s+participante|la\s+participante|img\d+",
}
_POSSESSIVE: dict[Language, dict[str, str]] = {
    "en": {"she": "her", "he": "his", "they": "their", "you": "your"},
    "de": {"sie": "ihr", "er": "sein"},
    "fr": {"elle": "son", "il": "son", "elles": "leur", "ils": "leur"},
    "es": {"ella": "su", "él": "su", "ellos": "su", "ellas": "su", "": "su"},
}
# (appearance wording for a pronoun subject, for another subject), and the verb (plain, negated)
_WORDING: dict[Language, tuple[str, str]] = {
    "en": ("{poss} expression {verb} {state}", "has an expression that {verb} {state}"),
    "de": ("{poss} Gesichtsausdruck {verb} {state}", "hat einen Gesichtsausdruck, der {after}{state} wirkt"),
    "fr": ("{poss} expression {verb} {state}", "a une expression qui {verb} {state}"),
    "es": ("{poss} expresión {verb} {state}", "tiene una expresión que {verb} {state}"),
}
_VERB_WORDING: dict[Language, tuple[str, str]] = {
    "en": ("looks", "does not look"),
    "de": ("wirkt", "wirkt nicht"),
    "fr": ("semble", "ne semble pas"),
    "es": ("parece", "no parece"),
}
_HONESTY: dict[Language, str] = {
    "en": r"(?:is|are|was|were|'s|’s)\s+(?:not\s+|n['’]t\s+)?(?:(?:" + _ADVERBS["en"] + r")\s+){0,2}"
    r"(?:lying|telling\s+(?:the\s+)?(?:truth|lies)|being\s+(?:honest|truthful|deceptive|dishonest)|honest|truthful|"
    r"sincere|deceptive|dishonest|deceiving\s+\w+|hiding\s+something)|(?:lies|lied)\b|(?:does|did)\s+not\s+lie",
    "de": r"lügt(?:\s+nicht)?|(?:sagt|sagte)\s+(?:nicht\s+)?die\s+wahrheit|(?:ist|war)\s+(?:nicht\s+)?"
    r"(?:ehrlich|aufrichtig|unehrlich)|verheimlicht\s+etwas",
    "fr": r"(?:ne\s+)?ment(?:\s+pas)?|dit\s+(?:pas\s+)?la\s+vérité|(?:n['’]\s*)?(?:est|était)\s+(?:pas\s+)?"
    r"(?:honnête|sincère|malhonnête)|cache\s+quelque\s+chose",
    "es": r"(?:no\s+)?miente|(?:no\s+)?dice\s+la\s+verdad|(?:no\s+)?(?:es|era)\s+(?:honest[oa]|sincer[oa]|"
    r"deshonest[oa])|oculta\s+algo",
}
_HONESTY_WORDING: dict[Language, str] = {
    "en": "a facial expression cannot show whether someone is telling the truth",
    "de": "ein Gesichtsausdruck zeigt nicht, ob jemand die Wahrheit sagt",
    "fr": "une expression faciale ne montre pas si quelqu'un dit la vérité",
    "es": "una expresión facial no muestra si alguien dice la verdad",
}
CAVEATS: dict[Language, str] = {
    "en": f"Caveat: this is an {EXPRESSION_CAVEAT}.",
    "de": "Hinweis: Das ist eine Schätzung des Gesichtsausdrucks nach dem Aussehen, kein Blick in das Innenleben "
    "der Person; wie ein Gesicht aussieht, kann von dem abweichen, was die Person fühlt.",
    "fr": "Remarque : il s'agit d'une estimation de l'expression d'après l'apparence du visage, pas d'une lecture "
    "de l'état intérieur de la personne ; l'apparence peut différer de ce qu'elle ressent.",
    "es": "Nota: es una estimación de la expresión según la apariencia del rostro, no una lectura del estado "
    "interior de la persona; la apariencia puede diferir de lo que siente.",
}
_CAVEAT_MARKS = ("appearance-based", "nach dem Aussehen", "d'après l'apparence", "según la apariencia")


class InnerStateClaim(BaseModel):
    """One claim about a person's inner state, where it is, and what replaced it."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    text: str
    language: Language
    kind: Literal["emotion", "honesty"]
    state: str | None = None  # the emotion word as written (emotion claims)
    negated: bool = False
    replacement: str


class InnerStateRewrite(BaseModel):
    """The answer with every claim rewritten; ``claims`` empty means ``text`` is the input unchanged."""

    model_config = ConfigDict(frozen=True)

    text: str
    claims: list[InnerStateClaim]
    caveat_added: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.claims)


def _state_alternation(lang: Language) -> str:
    words = sorted(_STATES[lang], key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)


def _emotion_pattern(lang: Language) -> re.Pattern[str]:
    neg_before = rf"(?P<neg1>{_NEG_BEFORE[lang]})?" if _NEG_BEFORE[lang] else ""
    neg_after = rf"(?P<neg2>(?:{_NEG_AFTER[lang]})\s+)?" if _NEG_AFTER[lang] else ""
    return re.compile(
        rf"\b{neg_before}(?P<verb>{_VERBS[lang]})\s+{neg_after}"
        rf"(?:(?:{_ADVERBS[lang]})\s+){{0,3}}(?P<state>{_state_alternation(lang)})(?!\w)",
        re.IGNORECASE,
    )


_EMOTION: dict[Language, re.Pattern[str]] = {lang: _emotion_pattern(lang) for lang in _STATES}
_HONESTY_RE: dict[Language, re.Pattern[str]] = {
    lang: re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.IGNORECASE) for lang, p in _HONESTY.items()
}
_SUBJECT_RE: dict[Language, re.Pattern[str]] = {
    lang: re.compile(rf"(?:^|(?<=[\s,;:(\"'„«]))(?P<subj>{p})\s*$", re.IGNORECASE) for lang, p in _SUBJECTS.items()
}
_NAME_BEFORE = re.compile(r"(?<![\w.])(?P<subj>[A-Z][\w-]{1,40})\s*$")
_SENTENCE_START = re.compile(r"(?:^|[.!?;:\n]\s*)$")


_APPEARANCE_BEFORE = re.compile(
    r"\b(?:expression|face|smile|look|emotion|label|result|score|estimate|ausdruck|gesichtsausdruck|gesicht|"
    r"lächeln|ergebnis|visage|sourire|air|résultat|expresión|rostro|cara|sonrisa|gesto|resultado)\b[\w\s]{0,30}$",
    re.IGNORECASE,
)
_CLAUSE_TAIL = re.compile(r"[^.!?;:,\n]*$")


def _subject_before(text: str, at: int, lang: Language) -> tuple[int, str] | None:
    """The person subject that ends right before ``at`` (start, text), or None.

    A claim about an expression, a face or a result ("the dominant expression is happy") has no person subject.
    Spanish drops subject pronouns ("está nerviosa"): there a verb with no other subject in its clause counts,
    with the empty subject.
    """
    head = text[max(0, at - 80) : at]
    offset = at - len(head)
    clause = _CLAUSE_TAIL.search(head)
    tail = clause.group() if clause is not None else head
    if _APPEARANCE_BEFORE.search(tail):
        return None
    m = _SUBJECT_RE[lang].search(head)
    if m is not None:
        return offset + m.start("subj"), m.group("subj")
    m = _NAME_BEFORE.search(head)
    if m is not None and not _SENTENCE_START.search(head[: m.start()]):
        return offset + m.start("subj"), m.group("subj")  # "... and Alice is happy" (not a sentence's first word)
    if lang == "es" and len(tail.split()) <= 3:
        return at, ""  # "Está nerviosa", "Probablemente está nerviosa", "y está contenta"
    return None


def find_inner_state_claims(text: str) -> list[InnerStateClaim]:
    """Every claim about a person's inner state in ``text``, in order, with its appearance rewording."""
    text = (text or "")[:MAX_TEXT]
    found: list[InnerStateClaim] = []
    taken: list[tuple[int, int]] = []  # kept sorted: spans already rewritten

    def free(a: int, b: int) -> bool:
        n = bisect.bisect_left(taken, (a, -1))
        before_ok = n == 0 or taken[n - 1][1] <= a
        after_ok = n == len(taken) or taken[n][0] >= b
        return before_ok and after_ok

    def take(span: tuple[int, int]) -> None:
        bisect.insort(taken, span)

    for lang in _STATES:
        for m in _HONESTY_RE[lang].finditer(text):
            subject = _subject_before(text, m.start(), lang)
            if subject is None:
                continue
            span = _sentence_around(text, m.start())
            if not free(*span):
                continue
            sentence = text[span[0] : span[1]]
            stop = sentence.rstrip()[-1:]
            wording = _HONESTY_WORDING[lang]
            replacement = wording[:1].upper() + wording[1:] + (stop if stop in ".!?" else ".")
            negated = bool(re.search(r"\b(?:not|nicht|pas|no)\b|n['’]t", m.group(), re.IGNORECASE))
            found.append(InnerStateClaim(start=span[0], end=span[1], text=sentence, language=lang, kind="honesty",
                                         negated=negated, replacement=replacement))  # fmt: skip
            take(span)
        for m in _EMOTION[lang].finditer(text):
            subject = _subject_before(text, m.start(), lang)
            if subject is None or not free(m.start(), m.end()):
                continue
            subj_start, subj = subject
            groups = m.groupdict()
            negated = bool(groups.get("neg1") or groups.get("neg2") or re.search(r"n['’]t", m.group("verb")))
            state = _STATES[lang].get(m.group("state").lower(), m.group("state"))
            key = " ".join(subj.lower().split())
            verb = _VERB_WORDING[lang][int(negated)]
            fill = {"verb": verb, "state": state, "after": "nicht " if negated else ""}
            if key in _POSSESSIVE[lang]:
                start = subj_start
                wording = _WORDING[lang][0].format(poss=_POSSESSIVE[lang][key], **fill)
                if _SENTENCE_START.search(text[max(0, start - 3) : start]) or start == 0:
                    wording = wording[:1].upper() + wording[1:]
            else:
                start = m.start()
                wording = _WORDING[lang][1].format(**fill)
            found.append(InnerStateClaim(start=start, end=m.end(), text=text[start : m.end()], language=lang,
                                         kind="emotion", state=m.group("state"), negated=negated,
                                         replacement=wording))  # fmt: skip
            take((start, m.end()))
    return sorted(found, key=lambda c: c.start)


def _sentence_around(text: str, at: int, reach: int = 2000) -> tuple[int, int]:
    """The sentence holding ``at`` (at most ``reach`` characters either side: bounded work per claim)."""
    lo = max(0, at - reach)
    start = max(text.rfind(c, lo, at) for c in ".!?\n") + 1 or lo
    start = max(start, lo)
    while start < at and text[start].isspace():
        start += 1
    hi = min(len(text), at + reach)
    ends = [i for i in (text.find(c, at, hi) for c in ".!?\n") if i != -1]
    end = min(ends) + 1 if ends else hi
    if text[end - 1 : end] == "\n":
        end -= 1
    return start, end


def rewrite_inner_state(text: str) -> InnerStateRewrite:
    """``text`` with every inner-state claim rewritten to appearance wording, and the caveat appended once
    (in the language of the first claim) unless the text already carries one."""
    claims = find_inner_state_claims(text)
    if not claims:
        return InnerStateRewrite(text=text, claims=[])
    parts: list[str] = []
    pos = 0
    for c in claims:
        parts.append(text[pos : c.start])
        parts.append(c.replacement)
        pos = c.end
    parts.append(text[pos:])
    out = "".join(parts)
    added = False
    if not any(mark in out for mark in _CAVEAT_MARKS):
        out = out.rstrip() + "\n\n" + CAVEATS[claims[0].language]
        added = True
    return InnerStateRewrite(text=out, claims=claims, caveat_added=added)


__all__ = [
    "CAVEATS",
    "RULE_ID",
    "InnerStateClaim",
    "InnerStateRewrite",
    "find_inner_state_claims",
    "rewrite_inner_state",
]
