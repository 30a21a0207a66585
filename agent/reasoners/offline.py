"""A deterministic reasoner for use without an LLM (the default when no Gemini key is set).

It understands the plain-English requests the demo and the evaluation scenarios make, maps them to tool calls,
and answers from the templates in ``prompts/offline_templates.yaml``. Requests for sensitive attributes or for
"who is this" are mapped to ``infer_attributes`` / ``identify_person`` on purpose: policy, not this parser,
refuses them, with a rule id and an audit row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import prompts
from agent.graph.messages import (
    ConsentStatusResult,
    ImageHandle,
    ShareResult,
    ToolCall,
    ToolOutcome,
    Turn,
    current_turn,
)
from agent.policy import ToolSpec
from agent.policy.sensitive import TRAIT_WORDS, requested_sensitive_attributes
from agent.reasoners.base import ReasonerContext, ReasonerStep
from tools.results import ExpressionResult, VerificationResult

# Words that name an attribute, spelled as the policy file spells it (agent/policy/default_policy.yaml): the
# special categories it refuses as ``inference.sensitive_prohibited`` and the others (age, gender) that
# facegate does not offer (``inference.not_offered``). Special categories are also found by
# agent.policy.sensitive (see _sensitive_attributes), which catches the words this table does not list.
SENSITIVE_WORDS: dict[str, str] = {
    "race": "race",
    "racial": "race",
    "ethnic": "ethnicity",
    "ethnicity": "ethnicity",
    "ethnic origin": "ethnic_origin",
    "skin colour": "race",
    "skin color": "race",
    "nationality": "ethnic_origin",
    "religion": "religion",
    "religious": "religion",
    "faith": "religion",
    "health": "health",
    "illness": "health",
    "disease": "health",
    "pregnan": "health",  # pregnancy is health data (GDPR Art. 9)
    "disability": "disability",
    # "disabled" is left to agent.policy.sensitive, which counts it only when said of a person
    # ("is img1 disabled?"), not of a setting ("policy checks are disabled").
    "sexual orientation": "sexual_orientation",
    "gay": "sexual_orientation",
    "political": "political_opinion",
    "politics": "political_opinion",
    "trade union": "trade_union_membership",
    "age": "age",
    "how old": "age",
    "gender": "gender",
    "sex ": "sex",
}
# agent.policy.sensitive's category ids -> the policy's name for a request that names no word above
# (each name must be in the policy's sensitive_attributes, so that decide() refuses it as prohibited).
SENSITIVE_CATEGORY_ATTRIBUTE: dict[str, str] = {
    "racial_or_ethnic_origin": "ethnic_origin",
    "religious_or_philosophical_beliefs": "religious_belief",
    "political_opinions": "political_opinion",
    "sex_life_or_sexual_orientation": "sexual_orientation",
    "health": "health",
    "trade_union_membership": "trade_union_membership",
}
# which category each policy name belongs to (a word above already covering a category adds nothing more)
_ATTRIBUTE_CATEGORY: dict[str, str] = {
    "race": "racial_or_ethnic_origin",
    "ethnicity": "racial_or_ethnic_origin",
    "ethnic_origin": "racial_or_ethnic_origin",
    "religion": "religious_or_philosophical_beliefs",
    "religious_belief": "religious_or_philosophical_beliefs",
    "philosophical_belief": "religious_or_philosophical_beliefs",
    "political_opinion": "political_opinions",
    "sexual_orientation": "sex_life_or_sexual_orientation",
    "sex_life": "sex_life_or_sexual_orientation",
    "health": "health",
    "disability": "health",
    "trade_union_membership": "trade_union_membership",
}
_STOP = {
    "the", "this", "that", "a", "an", "enrolled", "same", "person", "image", "photo", "picture", "he", "she",
    "they", "it", "is", "be", "to", "on", "record", "subject", "template", "me", "us", "them", "him", "her",
    "face", "probe", "who", "what", "which", "there", "really", "actually", "now",
}  # fmt: skip
_PURPOSE_CHANGE = re.compile(
    r"\bpurpose\b.*\b(change|switch|set|now|instead|pretend|different|another|new|is)\b"
    r"|\b(change|switch|set|use)\b.*\bpurpose\b|\bfor (marketing|research|security|hiring)\b instead"
)
_IDENTIFY = re.compile(
    r"\bwho (is|'s|are) (this|that|he|she|in|it|the)\b|\bwho is\b|\bidentify\b|\brecogni[sz]e\b|\bwhose face\b"
    r"|\bfind out who\b|\bname (of )?(this|the) person\b"
)
_EXPLAIN = re.compile(r"\bexplain\b|\bwhat does (that|this|it) mean\b|\bwhy (was|did|is)\b|\blast result\b")
_SHARE = re.compile(r"\blook at\b|\bshow (it )?(to )?you\b|\bshare\b|\bsee (the|this|that|my) (image|photo|picture)\b")
_EXPRESSION = re.compile(r"express|emotion|smil|mood|\bfeel|happy|\bsad\b|angry|facial")
_VERIFY = re.compile(
    r"verif|same person|\bmatch|compare|\bcheck|authenticat|\bis (img\d+|this|he|she|it) (really )?\w+|claim"
)
_CLAIM = re.compile(
    r"(?:enrolled|against|claims? to be|claiming to be|pretends? to be|as|is really|is)\s+(?:subject\s+)?"
    r"([a-z][\w.-]*)"
)
_CONSENT_SUBJECT = re.compile(r"(?:for|of|about|from|by|does|has|did)\s+(?:subject\s+)?([a-z][\w.-]*)")


def _tpl() -> dict[str, Any]:
    data: dict[str, Any] = prompts.data("offline_templates.yaml")
    return data


class OfflineReasoner:
    """Deterministic rule-based reasoner: one round of tool calls per turn, then an answer from templates."""

    name = "offline"

    def next_step(
        self, transcript: Sequence[Turn], tools: Sequence[ToolSpec], context: ReasonerContext
    ) -> ReasonerStep:
        turn = current_turn(list(transcript))
        outcomes = [t.outcome for t in turn if t.role == "tool" and t.outcome is not None]
        if context.max_steps_reached:
            return ReasonerStep(text=_tpl()["stopped"].format(steps=len(outcomes)))
        if outcomes:
            notes = [t.text for t in turn if t.role == "assistant" and t.text]
            return ReasonerStep(text=self._answer(outcomes, context, notes))
        user = turn[0] if turn and turn[0].role == "user" else None
        if user is None:
            return ReasonerStep(text=_tpl()["help"].format(purpose=context.purpose))
        available = {s.name for s in tools}
        return self._plan(user, list(transcript[: len(transcript) - len(turn)]), context, available)

    # --- planning -------------------------------------------------------------------------------------

    def _plan(self, user: Turn, history: list[Turn], context: ReasonerContext, available: set[str]) -> ReasonerStep:
        t = _tpl()
        text = " ".join((user.text or "").lower().split())
        images = list(context.images)
        refs = _referenced_images(text, images, user.images)

        if _RECORD_CONSENT.search(text):
            return ReasonerStep(text=t["cannot_record_consent"])
        note: str | None = None
        if _PURPOSE_CHANGE.search(text):
            # Say so, then treat the rest of the request under the session's purpose: policy decides it.
            note = str(t["purpose_fixed"].format(purpose=context.purpose))
            text = _PURPOSE_CLAUSE.sub(" ", text)
        step = self._plan_request(text, user, history, context, available, refs)
        if note is None:
            return step
        if step.tool_calls:
            return ReasonerStep(text=note, tool_calls=step.tool_calls)
        return ReasonerStep(text=note)

    def _plan_request(
        self,
        text: str,
        user: Turn,
        history: list[Turn],
        context: ReasonerContext,
        available: set[str],
        refs: list[ImageHandle],
    ) -> ReasonerStep:
        t = _tpl()
        images = list(context.images)
        calls: list[tuple[str, dict[str, Any]]] = []
        attributes = _sensitive_attributes(text, [i.subject for i in images if i.subject])
        if attributes:
            if not refs:
                return ReasonerStep(text=t["no_images"])
            calls = [("infer_attributes", {"image": refs[0].handle, "attributes": attributes})]
        elif _IDENTIFY.search(text) and not _CLAIM_STRICT.search(text):
            if not refs:
                return ReasonerStep(text=t["no_images"])
            calls = [("identify_person", {"image": r.handle}) for r in refs[:1]]
        elif "consent" in text and not _EXPRESSION.search(text):
            subject = _consent_subject(text, images)
            if subject is None:
                return ReasonerStep(text=t["help"].format(purpose=context.purpose))
            calls = [("consent_status", {"subject": subject})]
        elif _EXPLAIN.search(text) and not user.images:
            return ReasonerStep(text=self._explain(history, context))
        elif _SHARE.search(text):
            if not refs:
                return ReasonerStep(text=t["no_images"])
            calls = [("share_image_with_assistant", {"image": r.handle}) for r in refs[:1]]
        elif _EXPRESSION.search(text):
            if not refs:
                return ReasonerStep(text=t["no_images"])
            calls = [("analyze_expression", {"image": r.handle}) for r in refs]
        elif _VERIFY.search(text):
            if not refs:
                return ReasonerStep(text=t["no_images"])
            claimed = _claimed_subject(text, images)
            if claimed is not None or len(refs) == 1:
                probe = next((r for r in refs if r.subject is None), refs[0])
                subject = claimed or probe.subject
                if subject is None:
                    if len(images) >= 2:
                        calls = [("verify_faces", {"image_a": images[-2].handle, "image_b": images[-1].handle})]
                    else:
                        return ReasonerStep(text=t["need_subject"].format(image=probe.handle))
                else:
                    calls = [("verify_identity", {"image": probe.handle, "claimed_subject": subject})]
            else:
                calls = [("verify_faces", {"image_a": refs[0].handle, "image_b": refs[1].handle})]
        else:
            return ReasonerStep(text=t["help"].format(purpose=context.purpose))

        base = len(list(history)) + 1
        return ReasonerStep(
            tool_calls=[
                ToolCall(id=f"off-{base}-{i}", name=name, args=args)
                for i, (name, args) in enumerate(calls)
                if name in available
            ]
            or [],
            text=None,
        )

    # --- answering ------------------------------------------------------------------------------------

    def _answer(self, outcomes: list[ToolOutcome], context: ReasonerContext, notes: Sequence[str] = ()) -> str:
        return "\n\n".join([*notes, *(render_outcome(o, context) for o in outcomes)])

    def _explain(self, history: list[Turn], context: ReasonerContext) -> str:
        t = _tpl()
        for i in range(len(history) - 1, -1, -1):
            if history[i].role == "tool":
                j = i
                while j > 0 and history[j - 1].role == "tool":
                    j -= 1
                outcomes = [h.outcome for h in history[j : i + 1] if h.outcome is not None]
                return t["explain_intro"] + "\n\n" + self._answer(outcomes, context)
        return str(t["nothing_to_explain"])


_RECORD_CONSENT = re.compile(
    r"\b(record|grant|give|register|add|store|save|log|enter)\b[\w\s]{0,20}\bconsent\b"
    r"|\bconsent\b[\w\s]{0,20}\b(recorded|granted|registered|on file)\b.*\b(record|add|store|save)\b"
)
_PURPOSE_CLAUSE = re.compile(
    r"\b(change|switch|set|use)\b[^.,;]*?\bpurpose\b[^.,;]*?(\band then\b|\bthen\b|\band\b|[.,;:]|$)"
    r"|\bthe purpose is (now )?\w+\b"
)
_CLAIM_STRICT = re.compile(r"claims? to be|claiming to be|against enrolled|verify")


def _referenced_images(text: str, images: list[ImageHandle], attached: list[ImageHandle]) -> list[ImageHandle]:
    by_handle = {i.handle: i for i in images}
    found: list[ImageHandle] = []
    for m in re.finditer(r"\b(?:img|image|photo|picture)\s*#?(\d+)\b", text):
        h = by_handle.get(f"img{m.group(1)}")
        if h is not None and h not in found:
            found.append(h)
    ordinals = {"first": 0, "second": 1, "third": 2}
    for word, idx in ordinals.items():
        mentioned = re.search(rf"\b{word} (image|photo|picture|one)\b", text)
        if mentioned and idx < len(images) and images[idx] not in found:
            found.append(images[idx])
    for img in images:  # "the image of alice", "alice's photo"
        pattern = rf"\b{re.escape((img.subject or '').lower())}'s (image|photo|picture)\b"
        if img.subject and img not in found and re.search(pattern, text):
            found.append(img)
    if found:
        return found
    if attached:
        return list(attached)
    return images[-2:] if len(images) >= 2 else images


def _sensitive_attributes(text: str, subjects: Sequence[str] = ()) -> list[str]:
    """The attributes a request asks to infer from a face, as the policy names them ([] when none).

    Checked before any other reading of the request: "is img1 disabled?" asks about health, it does not claim
    that img1 is someone called "disabled". A subject's id is a name, not a request: "verify img1 against
    enrolled christian" asks nothing about religion.
    """
    for name in sorted(subjects, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(name.lower())}(?![\w-])", " ", text)
    text = re.sub(r"\benrolled\s+(?:subject\s+)?[a-z][\w.-]*", " ", text)
    found: list[str] = []
    padded = f" {text} "
    for word, attr in SENSITIVE_WORDS.items():
        pattern = rf"\b{re.escape(word.strip())}" + (r"\b" if word in {"age", "race", "gay"} else "")
        if re.search(pattern, padded) and attr not in found:
            found.append(attr)
    # Only a request *about the face* counts: "age" in "image" is excluded by the word boundary above.
    covered = {_ATTRIBUTE_CATEGORY[a] for a in found if a in _ATTRIBUTE_CATEGORY}
    for category in requested_sensitive_attributes(text):
        attr = SENSITIVE_CATEGORY_ATTRIBUTE.get(category, category)
        if category not in covered and attr not in found:
            found.append(attr)
    return found


_CLAIM_KEYS = ("enrolled", "against", "be", "as", "is", "claims", "claiming", "named", "called")


def _claimed_subject(text: str, images: list[ImageHandle]) -> str | None:
    """The subject someone claims to be: the first non-filler word after 'against', 'enrolled', 'to be', ..."""
    known = {i.subject.lower(): i.subject for i in images if i.subject}
    tokens = re.findall(r"[a-z0-9][\w.@:-]*", text)
    for i, tok in enumerate(tokens):
        if tok not in _CLAIM_KEYS:
            continue
        for word in tokens[i + 1 : i + 4]:
            word = word.rstrip(".,!?;:'\"")
            if word in _STOP or word in _CLAIM_KEYS or re.fullmatch(r"img\d+", word) or word in _FILLER:
                continue
            if word in TRAIT_WORDS and word not in known and tok not in ("enrolled", "against", "named", "called"):
                # "is he asian?" names nobody: a trait word said of a person is never a claimed subject (only
                # a subject named as one, "against enrolled christian", is a name)
                continue
            return known.get(word, word)
    return None


_FILLER = {"to", "be", "of", "and", "or", "against", "one", "someone", "somebody", "real", "our", "your",
           "same", "please", "verify", "check", "compare", "match", "matches", "a", "an"}  # fmt: skip


def _consent_subject(text: str, images: list[ImageHandle]) -> str | None:
    known = {i.subject.lower(): i.subject for i in images if i.subject}
    for name in known:
        if re.search(rf"\b{re.escape(name)}\b", text):
            return known[name]
    for m in _CONSENT_SUBJECT.finditer(text):
        word = m.group(1).strip(".,!?;:'\"")
        if word not in _STOP and word != "consent" and not re.fullmatch(r"img\d+", word):
            return word
    subjects = list(known.values())
    return subjects[0] if len(subjects) == 1 else None


# --- rendering (also used by the SDK and the CLI for decisions) ----------------------------------------


def _label(handle: str, context: ReasonerContext) -> str:
    for img in context.images:
        if img.handle == handle:
            return f"{handle} ({img.label})"
    return handle


def _action(outcome: ToolOutcome, context: ReasonerContext) -> str:
    t = _tpl()
    args = dict(outcome.args)
    for key in ("image", "image_a", "image_b"):
        value = args.get(key)
        if isinstance(value, str):
            args[key] = _label(value, context)
    attributes = args.get("attributes")
    if isinstance(attributes, list):
        args["attributes"] = ", ".join(str(a) for a in attributes)
    template = t["action"].get(outcome.tool, "run " + outcome.tool)
    try:
        return str(template.format(**args))
    except (KeyError, IndexError, ValueError):
        return f"run {outcome.tool}"


def render_outcome(outcome: ToolOutcome, context: ReasonerContext) -> str:
    """One paragraph saying what happened to a tool call, with the numbers and what they mean."""
    t = _tpl()
    action = _action(outcome, context)
    d = outcome.decision
    if outcome.status == "malformed":
        return str(t["malformed"].format(error_code=outcome.error_code, error=outcome.error))
    if outcome.status == "denied" and d is not None:
        if d.outcome == "needs_consent" or outcome.error_code == "consent_required":
            missing = (
                ", ".join(f"{m.subject_id}: {m.capability} for {m.purpose}" for m in d.missing)
                or "a consent covering this use"
            )
            return str(t["needs_consent"].format(action=action, rule_id=d.rule_id, reason=d.reason, missing=missing))
        return str(t["denied"].format(action=action, rule_id=d.rule_id, reason=d.reason))
    if outcome.status == "error":
        return str(t["error"].format(action=action, error_code=outcome.error_code, error=outcome.error))
    result = outcome.result
    parts: list[str] = []
    labels = {k: _label(v, context) for k, v in outcome.args.items() if isinstance(v, str)}
    if isinstance(result, VerificationResult):
        identity = outcome.tool == "verify_identity"
        key = ("verified_" if result.verified else "not_verified_") + ("identity" if identity else "pair")
        parts.append(t[key].format(**{**result.model_dump(mode="json"), **labels}))
        for img_key, faces in (
            ("image_a", result.faces_in_a),
            ("image_b", result.faces_in_b),
            ("image", result.faces_in_a),
        ):
            if img_key in labels and faces is not None and faces > 1:
                parts.append(t["several_faces"].format(image=labels[img_key], faces=faces))
    elif isinstance(result, ExpressionResult):
        if not result.faces:
            parts.append(t["expression_none"].format(image=labels.get("image", "the image")))
        for n, face in enumerate(result.faces, start=1):
            ranked = sorted(face.scores.items(), key=lambda kv: -kv[1])
            others = ", ".join(f"{k} {v * 100:.0f}%" for k, v in ranked[1:3]) or "none"
            parts.append(
                t["expression_face"].format(
                    n=n,
                    dominant=face.dominant,
                    dominant_pct=100 * face.scores.get(face.dominant, 0.0),
                    others=others,
                    **face.box.model_dump(),
                )
            )
        if result.singled_out and result.faces_seen:  # a group photo: only the consenting person's face
            parts.append(t["expression_singled_out"].format(image=labels.get("image", "the image"),
                                                            faces=result.faces_seen))  # fmt: skip
        parts.append(t["expression_caveat"].format(caveat=result.caveat))
    elif isinstance(result, ShareResult):
        parts.append(t["shared"].format(image=labels.get("image", "the image")))
    elif isinstance(result, ConsentStatusResult):
        if not result.consents:
            parts.append(t["consent_none"].format(subject=result.subject))
        for c in result.consents:
            parts.append(
                t["consent_item"].format(
                    id=c.id,
                    status=c.status,
                    capabilities=", ".join(c.capabilities),
                    purposes=", ".join(c.purposes),
                    granted_at=c.granted_at,
                    expiry=f", expires {c.expires_at}" if c.expires_at else "",
                    revoked=f", REVOKED {c.revoked_at}" if c.revoked_at else "",
                )
            )
    else:
        parts.append(f"{outcome.tool}: {result}")
    for note in outcome.provenance:  # what was checked of where each image came from, never more
        image = _label(note.handle, context)
        parts.append(t["provenance"].format(image=image, statement=note.statement))
        if note.liveness:
            parts.append(t["liveness"].format(image=image, statement=note.liveness))
    if outcome.human_review:
        parts.append(t["human_review"])
    if outcome.probe_dropped:
        parts.append(t["probe_dropped"])
    return " ".join(parts)
