"""Plain-text rendering of agent events, shared by the chat CLI and the demo (one line per thing that happened)."""

from __future__ import annotations

from typing import Any

from agent.sdk import AgentEvent

_MARK = {"allow": "ALLOW", "deny": "DENY", "needs_consent": "NEEDS CONSENT"}


def _args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def render_event(event: AgentEvent, *, answer_prefix: str = "facegate> ") -> list[str]:
    """The lines to print for one event (no pixels: events carry none)."""
    d = event.data
    if event.kind == "user":
        imgs = ", ".join(f"{i['handle']}={i.get('subject') or 'probe'}" for i in d.get("images", []))
        return [f"  [attached: {imgs}]"] if imgs else []
    if event.kind == "tool_calls":
        return [f"  -> asks for {c['name'] or '(unparseable call)'}({_args(c.get('args', {}))})" for c in d["calls"]]
    if event.kind == "decision":
        audit = f", audit #{d['audit_id']}" if d.get("audit_id") else ""
        mark = _MARK.get(d["outcome"], d["outcome"])
        return [f"  [policy] {mark} {d['tool']} (rule {d['rule_id']}{audit}): {d['reason']}"]
    if event.kind == "tool_result":
        status = d.get("status")
        if status == "ok":
            return [f"  [tool] {d['tool']}: {_summary(d['tool'], d.get('result') or {})}"]
        if status in ("error", "malformed"):
            return [f"  [tool] {d['tool']}: {status}: {d.get('error_code')}: {d.get('error')}"]
        return []  # denials were shown with their decision
    if event.kind == "consent_request":
        missing = "; ".join(f"{m['subject_id']}: {m['capability']} for {m['purpose']}" for m in d.get("missing", []))
        return [f"  [paused] {d['tool']} needs consent ({missing})"]
    if event.kind == "consent_answer":
        if d.get("granted"):
            return [f"  [consent] recorded by the operator: {', '.join(d.get('consent_ids', []))}; resuming"]
        if d.get("error"):
            return [f"  [consent] could not be recorded ({d['error']}: {d.get('message')}); the call will be refused"]
        return ["  [consent] not given; resuming (the call will be refused)"]
    if event.kind == "answer":
        return [answer_prefix + str(d.get("text", ""))]
    return []


def _summary(tool: str, r: dict[str, Any]) -> str:
    if tool in ("verify_faces", "verify_identity"):
        return (
            f"verified={r.get('verified')} distance={r.get('distance', 0):.3f} "
            f"threshold={r.get('threshold', 0):.3f} ({r.get('model')}/{r.get('detector')})"
        )
    if tool == "analyze_expression":
        faces = r.get("faces") or []
        return (
            ", ".join(
                f"face {i}: {f['dominant']} {100 * f['scores'].get(f['dominant'], 0):.0f}%"
                for i, f in enumerate(faces, 1)
            )
            or "no face"
        )
    if tool == "consent_status":
        return f"{len(r.get('consents') or [])} consent record(s) for {r.get('subject')}"
    return ", ".join(f"{k}={v}" for k, v in r.items() if not isinstance(v, dict | list))
