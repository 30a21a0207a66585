"""Plain-text rendering of agent events, shared by the chat CLI and the demo (one line per thing that happened)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from agent.graph.messages import ConsentStatusResult, ToolResultModel
from agent.sdk.events import (
    AgentEvent,
    AnswerEvent,
    ConsentAnswerEvent,
    ConsentRequestEvent,
    DecisionEvent,
    ToolCallsEvent,
    ToolResultEvent,
    UserEvent,
)
from tools.results import ExpressionResult, VerificationResult

_MARK = {"allow": "ALLOW", "deny": "DENY", "needs_consent": "NEEDS CONSENT"}


def _args(args: Mapping[str, JsonValue]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def render_event(event: AgentEvent, *, answer_prefix: str = "facegate> ") -> list[str]:
    """The lines to print for one event (no pixels: events carry none)."""
    if isinstance(event, UserEvent):
        imgs = ", ".join(f"{i.handle}={i.label}" for i in event.images)
        return [f"  [attached: {imgs}]"] if imgs else []
    if isinstance(event, ToolCallsEvent):
        return [f"  -> asks for {c.name or '(unparseable call)'}({_args(c.args)})" for c in event.calls]
    if isinstance(event, DecisionEvent):
        d = event.decision
        audit = f", audit #{d.audit_id}" if d.audit_id else ""
        mark = _MARK.get(d.outcome, d.outcome)
        return [f"  [policy] {mark} {d.tool} (rule {d.rule_id}{audit}): {d.reason}"]
    if isinstance(event, ToolResultEvent):
        o = event.outcome
        if o.status == "ok" and o.result is not None:
            return [f"  [tool] {o.tool}: {_summary(o.result)}"]
        if o.status in ("error", "malformed"):
            return [f"  [tool] {o.tool}: {o.status}: {o.error_code}: {o.error}"]
        return []  # denials were shown with their decision
    if isinstance(event, ConsentRequestEvent):
        r = event.request
        missing = "; ".join(f"{m.subject_id}: {m.capability} for {m.purpose}" for m in r.missing)
        return [f"  [paused] {r.tool} needs consent ({missing})"]
    if isinstance(event, ConsentAnswerEvent):
        a = event.answer
        if a.granted:
            return [f"  [consent] recorded by the operator: {', '.join(a.consent_ids)}; resuming"]
        if a.error:
            return [f"  [consent] could not be recorded ({a.error}: {a.message}); the call will be refused"]
        return ["  [consent] not given; resuming (the call will be refused)"]
    if isinstance(event, AnswerEvent):
        return [answer_prefix + event.text]
    return []


def _summary(result: ToolResultModel) -> str:
    if isinstance(result, VerificationResult):
        return (
            f"verified={result.verified} distance={result.distance:.3f} "
            f"threshold={result.threshold:.3f} ({result.model}/{result.detector})"
        )
    if isinstance(result, ExpressionResult):
        faces = [
            f"face {i}: {f.dominant} {100 * f.scores.get(f.dominant, 0):.0f}%" for i, f in enumerate(result.faces, 1)
        ]
        return ", ".join(faces) or "no face"
    if isinstance(result, ConsentStatusResult):
        covered = ", ".join(result.covered) or "nothing"
        return f"{result.subject} for {result.purpose}: consent covers {covered}"
    data = result.model_dump(mode="json", exclude={"kind"})
    return ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))
