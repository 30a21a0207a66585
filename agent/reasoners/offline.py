"""A deterministic reasoner for use without an LLM (the default when no Gemini key is set).

It understands the plain-English requests the demo and the evaluation scenarios make, maps them to tool calls,
and answers from the templates in ``prompts/offline_templates.yaml``. Requests for sensitive attributes or for
"who is this" are mapped to ``infer_attributes`` / ``identify_person`` on purpose: policy, not this parser,
refuses them, with a rule id and an audit row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import prompts
from agent.graph.messages import (
    ImageHandle,
    ToolCall,
    ToolOutcome,
    Turn,
    current_turn,
)
from agent.policy import ToolSpec
from agent.policy.facts import fact_from_outcome, render_fact
from agent.policy.request_phrases import asks_to_record_consent, mentions_purpose_change, strip_purpose_clauses
from agent.policy.sensitive import requested_sensitive_attributes
from agent.policy.stated_purpose import mismatch_reason
from agent.reasoners.base import ReasonerContext, ReasonerStep

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

        if asks_to_record_consent(text):
            return ReasonerStep(text=t["cannot_record_consent"])
        note: str | None = None
        if context.stated_purpose is not None:
            # The person said the use is now another one: policy refuses every tool call of this conversation,
            # and says so for each call planned below; a message with nothing to run gets the reason itself.
            note = str(t["purpose_stated"].format(reason=mismatch_reason(context.stated_purpose, context.purpose)))
        elif mentions_purpose_change(text):
            # Say so, then treat the rest of the request under the session's purpose: policy decides it.
            note = str(t["purpose_fixed"].format(purpose=context.purpose))
        if mentions_purpose_change(text):
            text = strip_purpose_clauses(text)
        step = self._plan_request(text, user, history, context, available, refs)
        if note is None:
            return step
        if step.tool_calls:
            return ReasonerStep(tool_calls=step.tool_calls, text=None if context.stated_purpose else note)
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
            claimed = _claimed_subject(text, images, context.is_subject)
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


# Claimed identities come from what the caller attached or named as a subject, never from an arbitrary word
# ("verify him for the office door as usual" names nobody). After these words any well-formed subject id is the
# identity claimed: "claims to be X", "says she is X", "enrolled X", "template of X", "subject X".
_ID = r"[a-z0-9][\w.:@-]{0,127}"
_STRONG_CLAIM = re.compile(
    rf"\b(?:claims?|claiming|pretends?|pretending|says?|saying|insists?)\s+(?:that\s+)?"
    rf"(?:(?:he|she|they)\s+(?:is|are|was)\s+|(?:he|she|they)['’]s\s+|to\s+be\s+)(?:subject\s+)?(?P<a>{_ID})"
    rf"|\benrolled\s+(?:(?:subject|identity|person|user|template|face)\s+(?:of\s+)?)?(?P<b>{_ID})"
    rf"|\b(?:template|identity)\s+of\s+(?:subject\s+)?(?P<c>{_ID})"
    rf"|\bsubject(?:\s+id)?\s+(?P<d>{_ID})"
)
_OWNED_TEMPLATE = re.compile(r"['’]s\s+(?:enrolled\s+)?(?:template|identity|enrol?lment)\b")
# After these, a word names someone only when it is a subject on record, the subject of an attached image, or
# shaped like an id (letters with digits or . _ : @ -): "verify img1 against obama", "is this emp_042?".
_WEAK_CLAIM = re.compile(rf"\b(?:as|against|is|be|named|called|really|for|to|matches|match|versus|vs)\s+(?P<w>{_ID})")
_NOT_A_NAME = {
    "the", "a", "an", "this", "that", "these", "those", "it", "he", "she", "they", "him", "her", "them", "me", "us",
    "you", "someone", "somebody", "anyone", "person", "one", "same", "real", "our", "your", "my", "his", "their",
    "enrolled", "subject", "template", "identity", "probe", "image", "photo", "picture", "face", "who", "what",
}  # fmt: skip
MAX_NAME_LOOKUPS = 20  # candidate words checked against the registry per request


def _id_shaped(word: str) -> bool:
    """Letters with digits or . _ : @ - ("emp_042", "j.doe", "u-17"): a token that is an id, not a word."""
    return any(c.isalpha() for c in word) and any(c.isdigit() or c in "._:@-" for c in word)


def _claimed_subject(text: str, images: list[ImageHandle], is_subject: Callable[[str], bool]) -> str | None:
    """The identity a request claims (see the patterns above), as the caller spelled it; None when it names none."""
    known = {i.subject.lower(): i.subject for i in images if i.subject}

    def clean(word: str) -> str | None:
        word = word.rstrip(".:@-")
        return None if not word or word in _NOT_A_NAME or re.fullmatch(r"img\d+", word) else word

    for m in _STRONG_CLAIM.finditer(text):
        word = clean(next(g for g in m.groups() if g is not None))
        if word is not None:
            return known.get(word, word)
    for m in _OWNED_TEMPLATE.finditer(text):  # "obama's enrolled template"
        before = re.search(rf"(?:^|\s)({_ID})$", text[max(0, m.start() - 130) : m.start()])
        word = clean(before.group(1)) if before else None
        if word is not None:
            return known.get(word, word)
    for lookups, m in enumerate(_WEAK_CLAIM.finditer(text)):
        word = clean(m.group("w"))
        if word is None:
            continue
        if word in known:
            return known[word]
        if _id_shaped(word) or (lookups < MAX_NAME_LOOKUPS and is_subject(word)):
            return word
    return None


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


# --- rendering: one renderer, driven by facts (agent.policy.facts), which the grounding guard also uses ------


def image_labels(context: ReasonerContext) -> dict[str, str]:
    """How an answer names each image: "img1 (alice)", "img2 (probe)"."""
    return {i.handle: f"{i.handle} ({i.label})" for i in context.images}


def render_outcome(outcome: ToolOutcome, context: ReasonerContext) -> str:
    """One paragraph saying what happened to a tool call, with the numbers and what they mean."""
    return render_fact(fact_from_outcome(outcome), image_labels(context))
