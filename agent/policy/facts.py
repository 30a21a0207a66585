"""What this turn's tool outcomes establish, as typed facts, and the truth rendered from them.

A :class:`Fact` is the part of one tool outcome that an answer may state: verified or not, distance, threshold,
expression scores per face, or that the call was refused or failed. :func:`fact_from_outcome` builds one from a
tool outcome in any shape (``agent.graph.messages.ToolOutcome``, its JSON dump, or another mapping with the same keys),
so the grounding check does not depend on the graph's types. :func:`render_fact` renders a fact with the
offline answer templates (``prompts/offline_templates.yaml``), exactly as
``agent.reasoners.offline.render_outcome`` renders the outcome it came from (a test holds them equal), so the
wiring can make ``render_outcome`` a thin call: ``render_fact(fact_from_outcome(o), image_labels(ctx))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import prompts

VERIFY_TOOLS = ("verify_faces", "verify_identity")
EXPRESSION_TOOL = "analyze_expression"
_IMAGE_ARGS = ("image", "image_a", "image_b")


class FaceScores(BaseModel):
    """One face's expression scores (label -> probability) and its box."""

    model_config = ConfigDict(frozen=True)

    scores: dict[str, float]
    dominant: str
    box: dict[str, int] = Field(default_factory=dict)


class Fact(BaseModel):
    """What one tool call of this turn established (or that it established nothing: refused, failed)."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    tool: str
    status: Literal["ok", "denied", "error", "malformed"]
    args: dict[str, Any] = Field(default_factory=dict)  # handles and subject ids only, as the call had them
    verified: bool | None = None
    subject: str | None = None  # the claimed subject of verify_identity
    distance: float | None = None
    threshold: float | None = None
    metric: str | None = None
    model: str | None = None
    detector: str | None = None
    faces_in: dict[str, int] = Field(default_factory=dict)  # image argument -> faces seen in it
    expressions: list[FaceScores] = Field(default_factory=list)
    caveat: str | None = None
    faces_seen: int | None = None  # analyze_expression: faces in the image when only one was singled out
    singled_out: bool = False  # analyze_expression: only the labelled person's face (of faces_seen) was analysed
    provenance: list[dict[str, Any]] = Field(default_factory=list)  # per image: handle, statement, liveness
    outcome: Literal["allow", "deny", "needs_consent"] | None = None  # the policy decision
    rule_id: str | None = None
    reason: str | None = None
    missing: list[dict[str, Any]] = Field(default_factory=list)
    error_code: str | None = None
    error: str | None = None
    purpose: str | None = None  # consent_status: the purpose the coverage was read for
    covered: list[str] = Field(default_factory=list)  # consent_status: capabilities an active consent covers
    uncovered: list[str] = Field(default_factory=list)  # consent_status: capabilities none covers
    other: dict[str, Any] = Field(default_factory=dict)  # the result of any other tool, as it was
    human_review: bool = False
    probe_dropped: bool = False

    @property
    def images(self) -> list[str]:
        return [v for k, v in self.args.items() if k in _IMAGE_ARGS and isinstance(v, str)]

    @property
    def is_verification(self) -> bool:
        return self.tool in VERIFY_TOOLS


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def fact_from_outcome(outcome: Any) -> Fact:
    """The :class:`Fact` of one tool outcome (a ``ToolOutcome``, its dump, or a mapping with its keys)."""
    o: Mapping[str, Any] = _plain(outcome)
    decision = _plain(o.get("decision")) or {}
    result = _plain(o.get("result")) or {}
    args = dict(o.get("args") or {})
    tool = str(o.get("tool", ""))
    fields: dict[str, Any] = {}
    if tool in VERIFY_TOOLS and o.get("status") == "ok":
        fields = {k: result.get(k) for k in ("verified", "distance", "threshold", "metric", "model", "detector")}
        fields["faces_in"] = {
            arg: result[key]
            for arg, key in (("image_a", "faces_in_a"), ("image_b", "faces_in_b"), ("image", "faces_in_a"))
            if arg in args and isinstance(result.get(key), int)
        }
    elif tool == EXPRESSION_TOOL and o.get("status") == "ok":
        fields["expressions"] = [
            FaceScores(scores=f.get("scores", {}), dominant=str(f.get("dominant")), box=f.get("box", {}))
            for f in result.get("faces") or []
        ]
        fields["caveat"] = result.get("caveat")
        fields["singled_out"] = bool(result.get("singled_out"))
        fields["faces_seen"] = result.get("faces_seen")
    elif tool == "consent_status" and o.get("status") == "ok":
        fields["purpose"] = result.get("purpose")
        fields["covered"] = list(result.get("covered") or [])
        fields["uncovered"] = list(result.get("missing") or [])
    elif o.get("status") == "ok" and tool != "share_image_with_assistant":
        fields["other"] = dict(result)
    return Fact(
        call_id=str(o.get("call_id", "")),
        tool=tool,
        status=o.get("status", "error"),
        args=args,
        subject=args.get("claimed_subject") if isinstance(args.get("claimed_subject"), str) else None,
        outcome=decision.get("outcome"),
        rule_id=decision.get("rule_id"),
        reason=decision.get("reason"),
        missing=list(decision.get("missing") or []),
        error_code=o.get("error_code"),
        error=o.get("error"),
        human_review=bool(o.get("human_review")),
        probe_dropped=bool(o.get("probe_dropped") or result.get("probe_dropped")),
        provenance=[dict(_plain(note)) for note in o.get("provenance") or []],
        **{k: v for k, v in fields.items() if v is not None},
    )


# --- rendering: the offline templates, driven by facts ------------------------------------------------


def _tpl() -> dict[str, Any]:
    data: dict[str, Any] = prompts.data("offline_templates.yaml")
    return data


def _action(fact: Fact, labels: Mapping[str, str]) -> str:
    args = dict(fact.args)
    for key in _IMAGE_ARGS:
        if isinstance(args.get(key), str):
            args[key] = labels.get(args[key], args[key])
    if isinstance(args.get("attributes"), list):
        args["attributes"] = ", ".join(str(a) for a in args["attributes"])
    template = _tpl()["action"].get(fact.tool, "run " + fact.tool)
    try:
        return str(template.format(**args))
    except (KeyError, IndexError, ValueError):
        return f"run {fact.tool}"


def render_fact(fact: Fact, labels: Mapping[str, str] | None = None) -> str:
    """One paragraph saying what a tool call established, with the numbers and what they mean.

    Args:
        fact: the fact to render.
        labels: how to name each image handle ("img1" -> "img1 (alice)"); a handle not in it is named as is.
    """
    t = _tpl()
    labels = labels or {}
    action = _action(fact, labels)
    if fact.status == "malformed":
        return str(t["malformed"].format(error_code=fact.error_code, error=fact.error))
    if fact.status == "denied" and fact.outcome is not None:
        if fact.outcome == "needs_consent" or fact.error_code == "consent_required":
            missing = (
                ", ".join(f"{m.get('subject_id')}: {m.get('capability')} for {m.get('purpose')}" for m in fact.missing)
                or "a consent covering this use"
            )
            return str(t["needs_consent"].format(action=action, rule_id=fact.rule_id, reason=fact.reason,
                                                 missing=missing))  # fmt: skip
        return str(t["denied"].format(action=action, rule_id=fact.rule_id, reason=fact.reason))
    if fact.status == "error":
        return str(t["error"].format(action=action, error_code=fact.error_code, error=fact.error))
    named = {k: labels.get(v, v) for k, v in fact.args.items() if isinstance(v, str)}
    parts: list[str] = []
    if fact.is_verification:
        key = ("verified_" if fact.verified else "not_verified_") + (
            "pair" if fact.tool == "verify_faces" else "identity"
        )
        numbers = {k: getattr(fact, k) for k in ("distance", "threshold", "metric", "model", "detector")}
        parts.append(t[key].format(**{**numbers, **named}))
        for arg in ("image_a", "image_b", "image"):
            faces = fact.faces_in.get(arg)
            if arg in named and faces is not None and faces > 1:
                parts.append(t["several_faces"].format(image=named[arg], faces=faces))
    elif fact.tool == EXPRESSION_TOOL:
        if not fact.expressions:
            parts.append(t["expression_none"].format(image=named.get("image", "the image")))
        for n, face in enumerate(fact.expressions, start=1):
            ranked = sorted(face.scores.items(), key=lambda kv: -kv[1])
            others = ", ".join(f"{k} {v * 100:.0f}%" for k, v in ranked[1:3]) or "none"
            parts.append(t["expression_face"].format(
                n=n, dominant=face.dominant, dominant_pct=100 * face.scores.get(face.dominant, 0.0), others=others,
                **{k: face.box.get(k, 0) for k in ("x", "y", "w", "h")},
            ))  # fmt: skip
        if fact.singled_out and fact.faces_seen:  # a group photo: only the consenting person's face
            parts.append(t["expression_singled_out"].format(image=named.get("image", "the image"),
                                                            faces=fact.faces_seen))  # fmt: skip
        parts.append(t["expression_caveat"].format(caveat=fact.caveat or "appearance-based estimates"))
    elif fact.tool == "share_image_with_assistant":
        parts.append(t["shared"].format(image=named.get("image", "the image")))
    elif fact.tool == "consent_status":
        key = "consent_covered" if fact.covered else "consent_none"
        parts.append(t[key].format(
            subject=fact.args.get("subject", "?"), purpose=fact.purpose or "this purpose",
            covered=", ".join(fact.covered), missing=", ".join(fact.uncovered) or "nothing",
        ))  # fmt: skip
    else:
        parts.append(f"{fact.tool}: {fact.other}")
    for note in fact.provenance:  # what was checked of where each image came from, never more
        image = labels.get(str(note.get("handle")), str(note.get("handle")))
        parts.append(t["provenance"].format(image=image, statement=note.get("statement")))
        if note.get("liveness"):
            parts.append(t["liveness"].format(image=image, statement=note["liveness"]))
    if fact.human_review:
        parts.append(t["human_review"])
    if fact.probe_dropped:
        parts.append(t["probe_dropped"])
    return " ".join(parts)


def render_truth(facts: list[Fact], labels: Mapping[str, str] | None = None) -> str:
    """Every fact rendered, one paragraph each: what facegate says when a model's answer cannot be trusted."""
    return "\n\n".join(render_fact(f, labels) for f in facts)


__all__ = ["EXPRESSION_TOOL", "VERIFY_TOOLS", "FaceScores", "Fact", "fact_from_outcome", "render_fact", "render_truth"]
