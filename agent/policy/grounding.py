"""Is every face result an answer states backed by this turn's tool outcomes?

An answer may say "verified", "match", "access granted", "distance 0.041", "threshold 0.060", "looks happy
(97%)" or "this is alice" only when a :class:`~agent.policy.facts.Fact` of this turn says so. :func:`check_answer`
finds each such statement (English, German, French, Spanish verdict words; numbers with a dot or a comma) and
classes it as grounded (a fact supports it), contradicted (the facts say otherwise) or ungrounded (no fact
about it at all). :func:`check_structured` does the same for a structured answer whose claims cite tool call
ids (what Gemini returns with structured output). The wiring replaces an answer with an ungrounded or
contradicted claim by :func:`agent.policy.facts.render_truth` and audits it under :data:`RULE_ID`.

Generic explanations ("a distance under the threshold counts as a match") and hypotheticals ("if ... it would
be a match") are not claims. Pure text work; every pattern is bounded (linear in the input).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.policy.facts import EXPRESSION_TOOL, Fact

RULE_ID = "answer.ungrounded_claim"
MAX_TEXT = 200_000

ClaimKind = Literal["verdict", "identity", "distance", "threshold", "expression"]
Status = Literal["grounded", "ungrounded", "contradicted"]

# fmt: off
_NEGATIVE = (
    r"not\s+verified|unverified|could\s+not\s+(?:be\s+)?verif(?:y|ied)|(?:was|is)\s+not\s+(?:a\s+)?(?:match|verified)|"
    r"no\s+match|does\s+not\s+match|do\s+not\s+match|did\s+not\s+match|doesn['’]t\s+match|don['’]t\s+match|"
    r"not\s+(?:the\s+)?same\s+person|different\s+(?:people|persons)|mismatch|access\s+(?:denied|refused|rejected)|"
    r"(?:denied|refused)\s+access|rejected|not\s+(?:be\s+)?accepted|not\s+authenticated|"
    r"nicht\s+verifiziert|keine\s+übereinstimmung|stimmt\s+nicht\s+überein|stimmen\s+nicht\s+überein|"
    r"nicht\s+dieselbe\s+person|nicht\s+die\s+gleiche\s+person|zutritt\s+verweigert|zugang\s+verweigert|abgelehnt|"
    r"non\s+vérifiée?|pas\s+vérifiée?|pas\s+de\s+correspondance|aucune\s+correspondance|ne\s+correspond\s+pas|"
    r"pas\s+la\s+même\s+personne|accès\s+refusé|refusée?|"
    r"no\s+verificad[oa]|sin\s+coincidencia|ninguna\s+coincidencia|no\s+coincide|no\s+es\s+la\s+misma\s+persona|"
    r"acceso\s+denegado|denegad[oa]|rechazad[oa]"
)
_POSITIVE = (
    r"verified|verification\s+(?:passed|succeeded)|match(?:es|ed)?|same\s+person|access\s+granted|granted\s+access|"
    r"authenticated|identity\s+confirmed|confirmed\s+as|"
    r"verifiziert|übereinstimmung|stimmt\s+überein|stimmen\s+überein|dieselbe\s+person|die\s+gleiche\s+person|"
    r"zutritt\s+gewährt|zugang\s+gewährt|bestätigt|"
    r"vérifiée?|correspondance|correspond|même\s+personne|accès\s+(?:accordé|autorisé)|authentifiée?|confirmée?|"
    r"verificad[oa]|coincidencia|coincide|misma\s+persona|acceso\s+(?:concedido|permitido)|autenticad[oa]|"
    r"confirmad[oa]"
)
_NEGATORS = (
    r"\b(?:not|no|never|cannot|can['’]t|couldn['’]t|didn['’]t|nicht|kein|keine|nie|ne|n['’]|pas|jamais|nunca|sin)\b"
)
# Generic explanations and hypotheticals: not a statement about this check.
_GENERIC = (
    r"\b(?:counts?\s+as|would|could\s+be|if|whether|only\s+a|zählt\s+als|gilt\s+als|würde|wenn|falls|ob|"
    r"compte\s+comme|serait|si|cuenta\s+como|sería|only\s+when|nur\s+wenn|seulement\s+si|solo\s+si)\b"
)
_DISTANCE = r"distance|abstand|distanz|distancia"
_THRESHOLD = r"threshold|schwelle|schwellenwert|seuil|umbral"
_LABELS: dict[str, tuple[str, ...]] = {
    "angry": ("angry", "anger", "wütend", "verärgert", "wut", "en colère", "colère", "enfadado", "enfadada",
              "enojado", "enojada", "ira"),
    "disgust": ("disgust", "disgusted", "angeekelt", "ekel", "dégoût", "dégoûté", "dégoûtée", "asco", "asqueado",
                "asqueada"),
    "fear": ("fear", "fearful", "afraid", "scared", "ängstlich", "angst", "peur", "effrayé", "effrayée", "miedo",
             "asustado", "asustada"),
    "happy": ("happy", "happiness", "glücklich", "fröhlich", "freude", "heureux", "heureuse", "joyeux", "joyeuse",
              "joie", "feliz", "alegre", "alegría"),
    "sad": ("sad", "sadness", "traurig", "trauer", "triste", "tristesse", "tristeza"),
    "surprise": ("surprise", "surprised", "überrascht", "überraschung", "surpris", "sorprendido", "sorprendida",
                 "sorpresa"),
    "neutral": ("neutral", "neutre"),
}
# fmt: on
_LABEL_OF = {w: label for label, words in _LABELS.items() for w in words}
_LABEL_ALT = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(_LABEL_OF, key=len, reverse=True))
_APPEARANCE = (
    r"looks?|appears?|seems?|dominant|expression|wirkt|scheint|ausdruck|gesichtsausdruck|semble|paraît|expression|"
    r"parece|luce|expresión"
)

_NEGATIVE_RE = re.compile(rf"(?<!\w)(?:{_NEGATIVE})(?!\w)", re.IGNORECASE)
_POSITIVE_RE = re.compile(rf"(?<!\w)(?:{_POSITIVE})(?!\w)", re.IGNORECASE)
_NEGATORS_RE = re.compile(_NEGATORS, re.IGNORECASE)
_GENERIC_RE = re.compile(_GENERIC, re.IGNORECASE)
_NUMBER = r"(?P<num>\d{1,3}(?:[.,]\d{1,6})?)"
_DISTANCE_RE = re.compile(rf"\b(?:{_DISTANCE})\b[^\d.!?;\n]{{0,40}}?{_NUMBER}(?!\d)", re.IGNORECASE)
_THRESHOLD_RE = re.compile(rf"\b(?:{_THRESHOLD})\b[^\d.!?;\n]{{0,40}}?{_NUMBER}(?!\d)", re.IGNORECASE)
_SCORED_LABEL_RE = re.compile(
    rf"(?<!\w)(?P<label>{_LABEL_ALT})(?!\w)[\s(:=]{{0,3}}(?:(?:with|mit|avec|con|at|bei|à|a)\s+)?"
    rf"(?P<num>\d{{1,3}}(?:[.,]\d{{1,4}})?)\s?(?P<pct>%|\s?percent|\s?prozent|\s?pour\s?cent|\s?por\s?ciento)?",
    re.IGNORECASE,
)
_APPEARANCE_LABEL_RE = re.compile(
    rf"\b(?:{_APPEARANCE})\b(?:\s+(?:is|ist|est|es|was|as|like|wie|comme|como|to\s+be|to|be|rather|quite|very|"
    rf"mostly|sehr|eher|très|plutôt|muy|bastante)){{0,3}}\s+(?P<label>{_LABEL_ALT})(?!\w)",
    re.IGNORECASE,
)
_FACE_RE = re.compile(r"\b(?:face|gesicht|visage|rostro|cara)\s+(?P<n>\d{1,3})\b", re.IGNORECASE)
_HANDLE_RE = re.compile(r"\b(?:img|image|photo)\s*(?P<n>\d{1,4})\b", re.IGNORECASE)
# A clause runs to . ! ? ; : or a line end, except a dot or colon between digits ("0.041", "12:30").
_CLAUSES_RE = re.compile(r"(?:[^.!?;:\n]|(?<=\d)[.:](?=\d))+")
_SENTENCES_RE = re.compile(r"(?:[^.!?\n]|(?<=\d)\.(?=\d))+")
_IDENTITY_BEFORE = re.compile(
    r"(?:\b(?:this|it|that|he|she)\s+is|\bshows|\bdas\s+ist|\bes\s+ist|\bist|\bzeigt|\bc['’]est|\bmontre|"
    r"\bes|\bmuestra|\bverified\s+as|\bconfirmed\s+as|\bals|\bcomme|\bcomo)\s+$",
    re.IGNORECASE,
)


class Claim(BaseModel):
    """One statement of a face result, where it is, and how it stands against the facts."""

    model_config = ConfigDict(frozen=True)

    kind: ClaimKind
    text: str
    start: int = 0
    end: int = 0
    verified: bool | None = None  # verdict / identity: what the answer says
    number: float | None = None  # distance / threshold / expression score (0..1)
    tolerance: float = 0.0  # half a unit of the last digit written: "97%" is any score in 0.965..0.975
    label: str | None = None  # expression label (canonical English) / identity: the subject named
    face: int | None = None  # "face 2": the face the claim is about (1-based)
    status: Status = "ungrounded"
    call_ids: list[str] = Field(default_factory=list)  # facts that support it, or contradict it
    path: str | None = None  # structured answers: which claim


class GroundingReport(BaseModel):
    """Every face-result claim found in an answer, each grounded, ungrounded or contradicted."""

    model_config = ConfigDict(frozen=True)

    claims: list[Claim]

    @property
    def ok(self) -> bool:
        return all(c.status == "grounded" for c in self.claims)

    @property
    def grounded(self) -> list[Claim]:
        return [c for c in self.claims if c.status == "grounded"]

    @property
    def ungrounded(self) -> list[Claim]:
        return [c for c in self.claims if c.status == "ungrounded"]

    @property
    def contradicted(self) -> list[Claim]:
        return [c for c in self.claims if c.status == "contradicted"]


class CitedClaim(BaseModel):
    """A claim of a structured answer, citing the tool call it rests on (Gemini's structured output)."""

    call_id: str
    kind: ClaimKind
    verified: bool | None = None
    number: float | None = None
    label: str | None = None
    subject: str | None = None
    face: int | None = None


class StructuredAnswer(BaseModel):
    """A final answer as structured output: prose for the person plus the claims it makes, with citations."""

    text: str = ""
    claims: list[CitedClaim] = Field(default_factory=list)


# --- finding claims in prose --------------------------------------------------------------------------


def _inside(spans: list[tuple[int, int]], at: int) -> bool:
    """Is ``at`` inside one of ``spans`` (sorted, not overlapping)?"""
    n = bisect.bisect_right(spans, (at, float("inf"))) - 1
    return n >= 0 and spans[n][0] <= at < spans[n][1]


def _half_unit(decimals: int) -> float:
    return 0.5 * 10.0 ** (-decimals) + 1e-9


def _number(text: str) -> tuple[float, int]:
    """A decimal with a dot or a comma, and its number of decimals."""
    whole, _, frac = text.replace(",", ".").partition(".")
    return float(f"{whole}.{frac}" if frac else whole), len(frac)


def find_claims(text: str, names: Iterable[str] = ()) -> list[Claim]:
    """Every statement of a face result in ``text`` (not yet judged: status "ungrounded")."""
    text = (text or "")[:MAX_TEXT]
    known = sorted({n for n in names if n}, key=len, reverse=True)
    name_re = (
        re.compile(rf"(?<![\w.-])(?:{'|'.join(re.escape(n) for n in known)})(?![\w-])", re.IGNORECASE)
        if known
        else None
    )
    claims: list[Claim] = []
    if name_re is not None:
        claims += _identity_claims(text, name_re)
    for clause in _CLAUSES_RE.finditer(text):
        body, base = clause.group(), clause.start()
        if _GENERIC_RE.search(body):
            continue
        face = _FACE_RE.search(body)
        face_n = int(face.group("n")) if face else None
        verdicts: list[tuple[int, int, bool]] = []
        taken: list[tuple[int, int]] = []
        for m in _NEGATIVE_RE.finditer(body):
            verdicts.append((m.start(), m.end(), False))
            taken.append(m.span())
        for m in _POSITIVE_RE.finditer(body):
            if _inside(taken, m.start()):
                continue
            negated = bool(_NEGATORS_RE.search(body[max(0, m.start() - 30) : m.start()]))
            verdicts.append((m.start(), m.end(), not negated))
        for a, b, ok in verdicts:
            claims.append(Claim(kind="verdict", text=body[a:b], start=base + a, end=base + b, verified=ok))
        for kind, pattern in (("distance", _DISTANCE_RE), ("threshold", _THRESHOLD_RE)):
            for m in pattern.finditer(body):
                value, decimals = _number(m.group("num"))
                claims.append(Claim(kind=kind, text=m.group(), start=base + m.start(), end=base + m.end(),
                                    number=value, tolerance=_half_unit(decimals)))  # fmt: skip
        seen: set[int] = set()
        for m in _SCORED_LABEL_RE.finditer(body):
            value, decimals = _number(m.group("num"))
            scale = 0.01 if (m.group("pct") or value > 1) else 1.0
            claims.append(Claim(kind="expression", text=m.group(), start=base + m.start(), end=base + m.end(),
                                label=_LABEL_OF[_norm(m.group("label"))], number=value * scale, face=face_n,
                                tolerance=_half_unit(decimals) * scale))  # fmt: skip
            seen.add(m.start("label"))
        for m in _APPEARANCE_LABEL_RE.finditer(body):
            if m.start("label") in seen:
                continue
            claims.append(Claim(kind="expression", text=m.group(), start=base + m.start(), end=base + m.end(),
                                label=_LABEL_OF[_norm(m.group("label"))], face=face_n))  # fmt: skip
    return claims


def _identity_claims(text: str, name_re: re.Pattern[str]) -> list[Claim]:
    """Subjects named as the one a check verified (or did not): "verified as alice", "c'est alice"."""
    out: list[Claim] = []
    for sentence in _SENTENCES_RE.finditer(text):
        body, base = sentence.group(), sentence.start()
        if _GENERIC_RE.search(body):
            continue
        negative = [m.span() for m in _NEGATIVE_RE.finditer(body)]
        positive = [
            m.span()
            for m in _POSITIVE_RE.finditer(body)
            if not _inside(negative, m.start()) and not _NEGATORS_RE.search(body[max(0, m.start() - 30) : m.start()])
        ]
        for m in name_re.finditer(body):
            if body[max(0, m.start() - 1) : m.start()] == "(" and body[m.end() : m.end() + 1] == ")":
                continue  # "img1 (alice)": the caller's label for an image, not a claim
            named_as = bool(_IDENTITY_BEFORE.search(body[max(0, m.start() - 20) : m.start()]))
            if not (negative or positive or named_as):
                continue
            verified = not negative
            out.append(Claim(kind="identity", text=m.group(), start=base + m.start(), end=base + m.end(),
                             verified=verified, label=m.group().lower()))  # fmt: skip
    return out


def _norm(word: str) -> str:
    return " ".join(word.lower().split())


# --- judging claims against facts ---------------------------------------------------------------------


def _relevant(facts: Sequence[Fact], clause_text: str) -> list[Fact]:
    """The facts a clause can be about: those of the images it names, else all of them."""
    handles = {f"img{m.group('n')}" for m in _HANDLE_RE.finditer(clause_text)}
    if handles:
        named = [f for f in facts if handles & set(f.images)]
        if named:
            return named
    return list(facts)


def _judge(claim: Claim, pool: Sequence[Fact]) -> Claim:
    verifications = [f for f in pool if f.is_verification]
    if claim.kind == "verdict":
        done = [f for f in verifications if f.status == "ok"]
        failed = [f for f in verifications if f.status != "ok"]
        support = [f for f in done if bool(f.verified) == claim.verified]
        if support or (not claim.verified and failed):
            return _with(claim, "grounded", support or failed)
        return _with(claim, "contradicted" if done or failed else "ungrounded", done + failed)
    if claim.kind == "identity":
        about = [f for f in verifications if f.status == "ok" and claim.label in _subjects(f)]
        support = [f for f in about if bool(f.verified) == claim.verified]
        if support:
            return _with(claim, "grounded", support)
        if not claim.verified and any(f.status != "ok" for f in verifications):
            return _with(claim, "grounded", [f for f in verifications if f.status != "ok"])
        return _with(claim, "contradicted" if about else "ungrounded", about)
    if claim.kind in ("distance", "threshold"):
        numbers = [(f, getattr(f, claim.kind)) for f in pool if getattr(f, claim.kind) is not None]
        support = [f for f, v in numbers if abs((claim.number or 0.0) - v) <= claim.tolerance]
        if support:
            return _with(claim, "grounded", support)
        return _with(claim, "contradicted" if numbers else "ungrounded", [f for f, _ in numbers])
    # expression
    analyses = [f for f in pool if f.tool == EXPRESSION_TOOL and f.status == "ok"]
    support, seen = [], []
    for f in analyses:
        faces = f.expressions
        if claim.face is not None:
            faces = faces[claim.face - 1 : claim.face]
        for face in faces:
            seen.append(f)
            label = claim.label or ""
            if claim.number is None:
                ok = face.dominant == label
            else:
                ok = label in face.scores and abs(face.scores[label] - claim.number) <= claim.tolerance
            if ok:
                support.append(f)
    if support:
        return _with(claim, "grounded", support)
    return _with(claim, "contradicted" if seen else "ungrounded", seen)


def _subjects(fact: Fact) -> set[str]:
    out = {fact.subject.lower()} if fact.subject else set()
    return out | {str(v).lower() for k, v in fact.args.items() if k.endswith("subject") and isinstance(v, str)}


def _with(claim: Claim, status: Status, facts: Iterable[Fact]) -> Claim:
    ids = list(dict.fromkeys(f.call_id for f in facts))
    return claim.model_copy(update={"status": status, "call_ids": ids})


def check_answer(text: str, facts: Sequence[Fact], *, names: Iterable[str] = ()) -> GroundingReport:
    """Find every face-result claim in ``text`` and judge it against this turn's ``facts``.

    Args:
        text: the answer as the person would read it.
        facts: the facts of this turn's tool outcomes (see :func:`agent.policy.facts.fact_from_outcome`).
        names: subject ids of the conversation, so that "verified as alice" is read as an identity claim.
    """
    text = (text or "")[:MAX_TEXT]
    subjects = set(names) | {s for f in facts for s in _subjects(f)}
    sentences = [m.span() for m in _SENTENCES_RE.finditer(text)]
    starts = [a for a, _ in sentences]
    pools: dict[int, list[Fact]] = {}  # sentence -> the facts it can be about (computed once per sentence)
    judged = []
    for claim in find_claims(text, subjects):
        n = max(0, bisect.bisect_right(starts, claim.start) - 1)
        if n not in pools:
            a, b = sentences[n] if sentences else (0, 0)
            pools[n] = _relevant(facts, text[a:b])
        judged.append(_judge(claim, pools[n]))
    return GroundingReport(claims=judged)


def check_structured(answer: StructuredAnswer, facts: Sequence[Fact], *, names: Iterable[str] = ()) -> GroundingReport:
    """Judge each cited claim against the fact of the call it cites, and the prose as :func:`check_answer` does.

    A claim citing a call id that has no fact is ungrounded; one whose fact says otherwise is contradicted.
    """
    by_id = {f.call_id: f for f in facts}
    judged: list[Claim] = []
    for n, cited in enumerate(answer.claims):
        claim = Claim(kind=cited.kind, text="", verified=cited.verified, number=cited.number,
                      label=(cited.subject or cited.label or "").lower() or None, face=cited.face,
                      path=f"claims[{n}]")  # fmt: skip
        fact = by_id.get(cited.call_id)
        if fact is None:
            judged.append(_with(claim, "ungrounded", []))
            continue
        if cited.kind in ("distance", "threshold"):
            claim = claim.model_copy(update={"tolerance": _half_unit(3)})  # cited numbers: to three decimals
        elif cited.kind == "expression":
            label = _LABEL_OF.get(_norm(cited.label or ""), cited.label)
            claim = claim.model_copy(update={"label": label, "tolerance": _half_unit(2)})
        judged.append(_judge(claim, [fact]).model_copy(update={"path": f"claims[{n}]"}))
    prose = check_answer(answer.text, facts, names=names).claims
    return GroundingReport(claims=judged + prose)


__all__ = [
    "RULE_ID",
    "CitedClaim",
    "Claim",
    "GroundingReport",
    "StructuredAnswer",
    "check_answer",
    "check_structured",
    "find_claims",
]
