"""The graph's three working nodes: ``reason``, ``policy`` and ``tools`` (plus ``consent``, which pauses the run).

``policy`` is the only way into ``tools``: it takes the next pending call, builds a :class:`PolicyRequest`,
reads the subjects' consents from the store at that moment (so a revocation made elsewhere counts on the next
call), calls :func:`decide`, and audits the decision. ``tools`` runs exactly the one call that carries an allow
decision for its call id, applies the decision's obligations, and audits the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from agent.images_vault import ImageVault
from agent.logging import get_logger
from agent.reasoners.base import Reasoner, ReasonerContext
from agent.state import (
    AgentState,
    DecisionInfo,
    ImageHandle,
    ToolCall,
    ToolOutcome,
    Turn,
    Usage,
    dump,
    images_of,
    transcript_of,
)
from tools.errors import FacegateError, PolicyDenied
from tools.specs import TOOL_SPECS, Capability, ToolSpec, tool_spec

if TYPE_CHECKING:
    from agent.policy import Decision, Policy
    from agent.settings import Settings
    from agent.store import Store


class EngineLike(Protocol):
    """The parts of :class:`tools.engine.FaceEngine` the tools node uses (fakes implement the same)."""

    def load(self, source: Any) -> Any: ...
    def verify(self, a: Any, b: Any, *, threshold: float | None = None) -> Any: ...
    def verify_against_template(
        self,
        probe: Any,
        template: Any,
        *,
        template_model: str,
        template_detector: str,
        threshold: float | None = None,
    ) -> Any: ...
    def analyze_expression(self, source: Any) -> Any: ...
    def forget(self, sha256: str) -> Any: ...


log = get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AgentDeps:
    """Everything the nodes need, built once at the edge (SDK) and passed into :func:`agent.graph.build_graph`."""

    settings: Settings
    reasoner: Reasoner
    policy: Policy
    store: Store
    engine: EngineLike
    vault: ImageVault = field(default_factory=ImageVault)
    clock: Callable[[], datetime] = utcnow
    tools: tuple[ToolSpec, ...] = TOOL_SPECS
    # Time spent inside the face engine, for the overhead benchmark (ms, appended per tool run).
    tool_ms: list[float] = field(default_factory=list)


# --- reason -------------------------------------------------------------------------------------------


def make_reason_node(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    def reason(state: AgentState) -> dict[str, Any]:
        transcript = transcript_of(state)
        steps = int(state.get("steps", 0))
        purpose = state["purpose"]
        catalogue = deps.policy.purposes.get(purpose)
        images = images_of(state)
        shared_before = list(state.get("shared", []))
        # Decisions this node makes outside tool calls (withdrawn or disclosed images, a withheld answer): audited
        # here, and handed to the SDK so that the reply lists them with the tool calls' decisions.
        decisions: list[dict[str, Any]] = []
        # Consent can be withdrawn between steps: each sharing is decided again before an image goes out.
        grants = _recheck_shared(deps, state, images, shared_before, decisions)
        shared = tuple(grants)
        context = ReasonerContext(
            purpose=purpose,
            purpose_description=catalogue.description if catalogue else "",
            images=tuple(images),
            shared=shared,
            shared_image=_shared_image_reader(deps, state, images, grants, decisions),
            human_present=bool(state.get("human_present", False)),
            max_steps_reached=steps >= deps.settings.max_turn_steps,
        )
        if context.max_steps_reached:
            from agent.reasoners.offline import OfflineReasoner

            # The step budget is spent: the answer comes from templates, the model is not asked again.
            step = OfflineReasoner().next_step(transcript, deps.tools, context)
        else:
            step = deps.reasoner.next_step(transcript, deps.tools, context)
        usage = Usage.model_validate(state.get("usage") or {}) + step.usage
        update: dict[str, Any] = {"steps": steps + 1, "usage": dump(usage), "last_usage": dump(step.usage)}
        update["decisions"] = decisions  # this step's only (the SDK reads them from this node's update)
        if list(shared) != shared_before:
            update["shared"] = list(shared)
        if step.malformed is not None or step.tool_calls:
            calls = _unique_ids(step.tool_calls, len(transcript))
            if step.malformed is not None:
                # An unparseable function call: routed through policy like any other, where it becomes a
                # MalformedToolCall outcome the reasoner sees on its next step.
                calls.append(ToolCall(id=f"c{len(transcript)}-m", name="", args={"_malformed": step.malformed[:500]}))
            interim = _guard_sensitive(deps, state, images, shared, step.text, decisions) if step.text else None
            update["transcript"] = [dump(Turn(role="assistant", text=interim, tool_calls=calls))]
            update["pending"] = [dump(c) for c in calls]
        else:
            guarded = _guard_sensitive(deps, state, images, shared, step.text or "", decisions)
            text = _with_policy_notes(guarded, transcript)
            update["transcript"] = [dump(Turn(role="assistant", text=text))]
            update["pending"] = []
        return update

    return reason


def _with_policy_notes(text: str, transcript: list[Turn]) -> str:
    """Make sure the person hears about every refusal of this turn, whatever the reasoner wrote.

    A model may gloss over a denial (or be talked into doing so); the rule id and reason are appended for
    each refused call the answer does not name.
    """
    from agent.state import current_turn

    notes = []
    for turn in current_turn(transcript):
        o = turn.outcome
        if o is None or o.status != "denied" or o.decision is None:
            continue
        if o.decision.rule_id not in text:
            notes.append(f"[policy] {o.tool} was refused under rule {o.decision.rule_id}: {o.decision.reason}")
    return "\n".join([text, *notes]).strip() if notes else text


def _unique_ids(calls: list[ToolCall], base: int) -> list[ToolCall]:
    seen: set[str] = set()
    out: list[ToolCall] = []
    for i, call in enumerate(calls):
        cid = call.id or f"c{base}-{i}"
        if cid in seen:
            cid = f"{cid}-{i}"
        seen.add(cid)
        out.append(call.model_copy(update={"id": cid}))
    return out


SHARE_TOOL = "share_image_with_assistant"


def _decision_record(call_id: str, tool: str, outcome: str, rule_id: str, reason: str, audit_id: str) -> dict[str, Any]:
    """A decision the reason node made outside a tool call, as the SDK's ``decision`` events carry it."""
    return {"call_id": call_id, "tool": tool, "outcome": outcome, "rule_id": rule_id, "reason": reason,
            "audit_id": audit_id}  # fmt: skip


def _recheck_shared(
    deps: AgentDeps,
    state: AgentState,
    images: list[ImageHandle],
    shared: list[str],
    decisions: list[dict[str, Any]] | None = None,
) -> dict[str, Decision]:
    """Decide ``llm_image_sharing`` again for every shared handle, with the consents on file now.

    An allow made earlier in the thread is not a standing licence: a subject who withdrew consent (or whose
    consent expired) must not have their image sent with the next model request. A handle that is no longer
    allowed is dropped from ``shared`` and the withdrawal is audited (deny with the rule id). Returns the
    handles still allowed, each with the decision it now rests on.
    """
    from agent.policy import ImageRef, PolicyRequest, decide

    spec = tool_spec(SHARE_TOOL)
    by_handle = {i.handle: i for i in images}
    allowed: dict[str, Decision] = {}
    for handle in shared:
        ref = by_handle.get(handle)
        if ref is None or spec is None:
            continue  # not a registered image of this thread: never attached
        request = PolicyRequest(
            tool=spec.name,
            capability=spec.capability,
            purpose=state["purpose"],
            images=[ImageRef(handle=ref.handle, sha256=ref.sha256, subject_id=ref.subject)],
            session_id=state.get("session_id", ""),
            actor=deps.settings.actor,
        )
        consents = deps.store.consents_for_many([ref.subject]) if ref.subject else []
        decision = decide(request, consents, deps.policy, deps.clock())
        if decision.outcome == "allow":
            allowed[handle] = decision
            continue
        log.info("policy.share_withdrawn", handle=handle, rule_id=decision.rule_id, session=state.get("session_id"))
        audit_id = _append_audit(
            deps, state, kind="decision", subjects=[ref.subject] if ref.subject else [],
            capability=spec.capability.value, outcome="deny", rule_id=decision.rule_id,
            policy_hash=decision.policy_hash, refs=[ref],
            summary={"tool": spec.name, "handle": handle, "reason": decision.reason,
                     "note": "shared image withdrawn: no longer attached to model requests"},
        )  # fmt: skip
        if decisions is not None:
            decisions.append(_decision_record(f"share:{handle}", spec.name, "deny", decision.rule_id,
                                              decision.reason, audit_id))  # fmt: skip
    return allowed


def _shared_image_reader(
    deps: AgentDeps,
    state: AgentState,
    images: list[ImageHandle],
    grants: dict[str, Decision],
    decisions: list[dict[str, Any]] | None = None,
) -> Callable[[str], bytes | None]:
    by_handle = {i.handle: i for i in images}
    disclosed: set[str] = set()

    def read(handle: str) -> bytes | None:
        # Only handles policy allows now (re-decided this step by _recheck_shared) can be read.
        decision = grants.get(handle)
        if decision is None or handle not in by_handle:
            return None
        ref = by_handle[handle]
        data = _image_bytes(deps, ref.sha256)
        if data is not None and handle not in disclosed:
            # Every attachment is a disclosure of a face to the model provider: one audit row per request.
            disclosed.add(handle)
            audit_id = _append_audit(
                deps, state, kind="decision", subjects=[ref.subject] if ref.subject else [],
                capability=Capability.LLM_IMAGE_SHARING.value, outcome="allow", rule_id=decision.rule_id,
                policy_hash=decision.policy_hash, refs=[ref],
                summary={"tool": SHARE_TOOL, "handle": handle, "note": "attached to model request",
                         "reasoner": getattr(deps.reasoner, "name", "?"),
                         "consent_ids": list(decision.consent_ids)},
            )  # fmt: skip
            if decisions is not None:
                reason = "attached to the model request: " + decision.reason
                decisions.append(
                    _decision_record(f"share:{handle}", SHARE_TOOL, "allow", decision.rule_id, reason, audit_id)
                )
        return data

    return read


def _image_bytes(deps: AgentDeps, sha: str) -> bytes | None:
    if sha not in deps.vault:
        return None
    raw = deps.vault.raw(sha)
    if raw is not None:
        return raw
    import cv2

    ok, buf = cv2.imencode(".jpg", deps.vault.get(sha).array)
    return bytes(buf) if ok else None


ANSWER_GUARD = "answer_guard"


def _guard_sensitive(
    deps: AgentDeps,
    state: AgentState,
    images: list[ImageHandle],
    shared: tuple[str, ...],
    text: str,
    decisions: list[dict[str, Any]] | None = None,
) -> str:
    """Withhold a reasoner's text that states a special-category trait of a person (AI Act Art. 5(1)(g)).

    Policy gates tool calls, but a model that was shown a face can answer "she appears to be Muslim" without
    calling one. Such text never reaches the person or the transcript: it is replaced by a refusal naming the
    rule, and the refusal is audited with the categories only (never the text).
    """
    from agent.policy import rules
    from agent.policy.sensitive import CATEGORY_NAMES, sensitive_inferences

    categories = sensitive_inferences(text)
    if not categories:
        return text
    names = ", ".join(CATEGORY_NAMES[c] for c in categories)
    by_handle = {i.handle: i for i in images}
    subjects = sorted({s for h in shared if (s := by_handle[h].subject if h in by_handle else None)})
    log.info("policy.output_guard", rule_id=rules.INFERENCE_SENSITIVE_PROHIBITED, categories=categories,
             session=state.get("session_id"))  # fmt: skip
    audit_id = _append_audit(
        deps, state, kind="decision", subjects=subjects, capability=None, outcome="deny",
        rule_id=rules.INFERENCE_SENSITIVE_PROHIBITED, policy_hash=deps.policy.hash, refs=[],
        summary={"tool": "(answer)", "categories": categories, "note": "model answer withheld"},
    )  # fmt: skip
    if decisions is not None:
        step = int(state.get("steps", 0))
        decisions.append(_decision_record(f"answer-{step}", ANSWER_GUARD, "deny",
                                          rules.INFERENCE_SENSITIVE_PROHIBITED,
                                          f"the model's answer inferred a person's {names}; it was withheld",
                                          audit_id))  # fmt: skip
    return (
        f"I can't give that answer: it inferred a person's {names}, which facegate never infers from a face "
        f"(rule {rules.INFERENCE_SENSITIVE_PROHIBITED})."
    )


# --- policy -------------------------------------------------------------------------------------------


def route_after_reason(state: AgentState) -> str:
    return "policy" if state.get("pending") else "__end__"


def route_after_policy(state: AgentState) -> str:
    if state.get("awaiting"):
        return "consent"
    pending = state.get("pending") or []
    if not pending:
        return "reason"
    if pending[0]["id"] in (state.get("allowed") or {}):
        return "tools"
    return "policy"


def route_after_tools(state: AgentState) -> str:
    return "policy" if state.get("pending") else "reason"


def _decision_info(decision: Decision) -> DecisionInfo:
    return DecisionInfo(
        outcome=decision.outcome,
        rule_id=decision.rule_id,
        reason=decision.reason,
        obligations=[o.model_dump(mode="json") for o in decision.obligations],
        missing=[m.model_dump(mode="json") for m in decision.missing],
        policy_hash=decision.policy_hash,
    )


def _finish(state: AgentState, outcome: ToolOutcome, **extra: Any) -> dict[str, Any]:
    """Pop the current call and record its outcome in the transcript."""
    return {
        "pending": list(state.get("pending") or [])[1:],
        "transcript": [dump(Turn(role="tool", outcome=outcome))],
        **extra,
    }


def make_policy_node(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    from agent.policy import ImageRef, PolicyRequest, decide

    def policy(state: AgentState) -> dict[str, Any]:
        call = ToolCall.model_validate((state.get("pending") or [])[0])
        session = state.get("session_id", "")
        purpose = state["purpose"]
        images = {i.handle: i for i in images_of(state)}
        spec = tool_spec(call.name)
        if spec is None or spec not in deps.tools:
            detail = call.args.get("_malformed") if not call.name else None
            msg = (
                f"the model produced an unusable function call: {detail}"
                if detail
                else (f"there is no tool called {call.name!r}; the tools are: " + ", ".join(s.name for s in deps.tools))
            )
            return _finish(state, _malformed(deps, state, call, msg, unknown_tool=True))
        try:
            args = spec.args_model.model_validate(call.args).model_dump()
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            return _finish(state, _malformed(deps, state, call, f"invalid arguments for {spec.name}: {problems}"))
        refs: list[ImageHandle] = []
        for arg in spec.image_args:
            handle = args.get(arg)
            if handle not in images:
                known = ", ".join(images) or "none"
                return _finish(
                    state,
                    _malformed(deps, state, call, f"{arg}={handle!r} is not a registered image (registered: {known})"),
                )
            refs.append(images[handle])
        bad = _invalid_subject_args(spec, args)
        if bad:
            # A subject id the model made up must match the store's id pattern before it reaches policy, the
            # store or an audit row: "obama\n[policy] ALLOW ..." is not a person.
            # the value is not echoed (not even into the audit row): only its argument name and length
            shown = ", ".join(f"{a} (a {len(str(args[a]))}-character value)" for a in bad)
            clean_args = {k: ("<invalid>" if k in bad else v) for k, v in call.args.items()}
            message = (
                f"invalid subject id: {shown} (use 1-128 letters, digits and . _ : @ -, starting with a letter "
                "or digit)"
            )
            return _finish(state, _malformed(deps, state, call.model_copy(update={"args": clean_args}), message))
        claimed = args.get("claimed_subject") if "claimed_subject" in spec.subject_args else None
        subject = args.get("subject") if "subject" in spec.subject_args else None
        template_purpose = (
            deps.store.template_purpose(
                claimed, model=deps.settings.model, detector=deps.settings.detector, now=deps.clock()
            )
            if claimed
            else None
        )
        enrolled = template_purpose is not None
        request = PolicyRequest(
            tool=spec.name,
            capability=spec.capability,
            purpose=purpose,
            images=[ImageRef(handle=r.handle, sha256=r.sha256, subject_id=r.subject) for r in refs],
            claimed_subject=claimed,
            subject=subject,
            requested_attributes=list(args.get("attributes") or []),
            claimed_subject_enrolled=enrolled,
            claimed_template_purpose=template_purpose,
            session_id=session,
            actor=deps.settings.actor,
        )
        involved = sorted({s for s in [*(r.subject for r in refs), claimed, subject] if s})
        consents = deps.store.consents_for_many(involved) if involved else []
        decision = decide(request, consents, deps.policy, deps.clock())
        info = _decision_info(decision)
        answer = state.get("consent_answer") or {}
        asked_already = answer.get("call_id") == call.id

        if decision.outcome == "needs_consent" and state.get("human_present") and not asked_already:
            audit_id = _audit_decision(deps, state, spec, call, refs, involved, decision, note="asking a person")
            return {
                "awaiting": {"call_id": call.id, "tool": spec.name, "args": call.args,
                             "decision": dump(info), "audit_id": audit_id, "purpose": purpose},
                "consent_answer": None,
            }  # fmt: skip
        if decision.outcome == "needs_consent" and asked_already:
            failure = answer.get("error")
            why = (
                f" Consent was granted but could not be recorded: {str(failure)[:300]}"
                if failure
                else " Consent was not recorded when asked."
            )
            decision = decision.model_copy(update={"outcome": "deny", "reason": decision.reason + why})
            info = _decision_info(decision)
            audit_id = _audit_decision(deps, state, spec, call, refs, involved, decision, note="consent declined")
            outcome = ToolOutcome(
                call_id=call.id, tool=spec.name, args=call.args, status="denied", decision=info,
                error_code="consent_declined", error=decision.reason, audit_ids=[audit_id],
            )  # fmt: skip
            return _finish(state, outcome, consent_answer=None)
        audit_id = _audit_decision(deps, state, spec, call, refs, involved, decision)
        if decision.outcome == "allow":
            allowed = dict(state.get("allowed") or {})
            allowed[call.id] = {**dump(info), "audit_id": audit_id, "tool": spec.name}
            return {"allowed": allowed, "consent_answer": None}
        code = "consent_required" if decision.outcome == "needs_consent" else "policy_denied"
        outcome = ToolOutcome(
            call_id=call.id, tool=spec.name, args=call.args, status="denied", decision=info,
            error_code=code, error=decision.reason, audit_ids=[audit_id],
        )  # fmt: skip
        return _finish(state, outcome, consent_answer=None)

    return policy


def _invalid_subject_args(spec: ToolSpec, args: dict[str, Any]) -> list[str]:
    """The subject-typed arguments whose value is not a well-formed subject id (None: not given, fine)."""
    import re

    from agent.store.models import SUBJECT_ID_PATTERN

    pattern = re.compile(SUBJECT_ID_PATTERN)
    return [a for a in spec.subject_args
            if args.get(a) is not None and not (isinstance(args[a], str) and pattern.fullmatch(args[a]))]  # fmt: skip


def _malformed(
    deps: AgentDeps, state: AgentState, call: ToolCall, message: str, *, unknown_tool: bool = False
) -> ToolOutcome:
    """A call that cannot even be put to policy: nothing runs, the model is told why, and the attempt is audited
    (what a model tried to call is evidence too)."""
    from agent.policy import rules
    from tools.errors import MalformedToolCall

    rule_id = rules.TOOL_UNKNOWN if unknown_tool else rules.TOOL_INVALID_ARGUMENTS
    audit_id = _append_audit(
        deps, state, kind="decision", subjects=[], capability=None, outcome="deny", rule_id=rule_id,
        policy_hash=deps.policy.hash, refs=[],
        # the name and message come from the model: bounded, never the arguments' values
        summary={"tool": (call.name or "(unparseable)")[:100], "call_id": call.id, "reason": message[:300]},
    )  # fmt: skip
    return ToolOutcome(
        call_id=call.id,
        tool=call.name or "(unparseable)",
        args={k: v for k, v in call.args.items() if k != "_malformed"},
        status="malformed",
        decision=DecisionInfo(outcome="deny", rule_id=rule_id, reason=message, policy_hash=deps.policy.hash),
        error_code=MalformedToolCall.code,
        error=message,
        audit_ids=[audit_id],
    )


def _audit_decision(
    deps: AgentDeps,
    state: AgentState,
    spec: ToolSpec,
    call: ToolCall,
    refs: list[ImageHandle],
    subjects: list[str],
    decision: Decision,
    note: str | None = None,
) -> str:

    summary: dict[str, Any] = {
        "tool": spec.name,
        "call_id": call.id,
        "reason": decision.reason,
        "obligations": [o.model_dump(mode="json") for o in decision.obligations],
        "missing": [m.model_dump(mode="json") for m in decision.missing],
        "consent_ids": list(getattr(decision, "consent_ids", []) or []),
        "images": [{"handle": r.handle, "subject": r.subject} for r in refs],
    }
    if note:
        summary["note"] = note
    log.info(
        "policy.decision", tool=spec.name, call_id=call.id, outcome=decision.outcome, rule_id=decision.rule_id,
        session=state.get("session_id"),
    )  # fmt: skip
    return _append_audit(
        deps, state, kind="decision", subjects=subjects, capability=spec.capability.value,
        outcome=decision.outcome, rule_id=decision.rule_id, policy_hash=decision.policy_hash, refs=refs,
        summary=summary,
    )  # fmt: skip


def _append_audit(
    deps: AgentDeps,
    state: AgentState,
    *,
    kind: str,
    subjects: list[str],
    capability: str | None,
    outcome: str,
    rule_id: str,
    policy_hash: str | None,
    refs: list[ImageHandle],
    summary: dict[str, Any],
) -> str:
    """One audit row about this session's current call; returns its audit id."""
    from agent.store import AuditEvent

    entry = deps.store.audit.append(
        AuditEvent(
            kind=kind,  # type: ignore[arg-type]
            actor=deps.settings.actor,
            session_id=state.get("session_id"),
            purpose=state["purpose"],
            subjects=subjects,
            capability=capability,
            outcome=outcome,
            rule_id=rule_id,
            policy_hash=policy_hash,
            input_hashes=[r.sha256 for r in refs],
            summary=summary,
        )
    )
    return audit_id_of(entry)


def audit_id_of(entry: Any) -> str:
    """A stable id for an audit entry (its sequence number, else its hash)."""
    for attr in ("seq", "id", "hash"):
        value = getattr(entry, attr, None)
        if value is not None:
            return str(value)
    return str(entry)


# --- consent (pauses the run) -------------------------------------------------------------------------


def consent_node(state: AgentState) -> dict[str, Any]:
    """Pause the run until a person answers; the SDK records the consent (never the model) and resumes."""
    from langgraph.types import interrupt

    ask = dict(state.get("awaiting") or {})
    decision = ask.get("decision", {})
    answer = interrupt(
        {
            "call_id": ask.get("call_id"),
            "tool": ask.get("tool"),
            "args": ask.get("args"),
            "purpose": ask.get("purpose"),
            "missing": decision.get("missing", []),
            "decision": decision,
        }
    )
    granted = bool(answer.get("granted")) if isinstance(answer, dict) else bool(answer)
    consent_ids = list(answer.get("consent_ids", [])) if isinstance(answer, dict) else []
    consent_answer: dict[str, Any] = {"call_id": ask.get("call_id"), "granted": granted, "consent_ids": consent_ids}
    if isinstance(answer, dict) and answer.get("message"):
        # a consent the person granted but the registry refused (e.g. a term too long): the reason is kept
        consent_answer["error"] = f"{answer.get('error', 'invalid_consent')}: {answer['message']}"
    return {"awaiting": None, "consent_answer": consent_answer}


# --- tools --------------------------------------------------------------------------------------------


def make_tools_node(deps: AgentDeps) -> Callable[[AgentState], dict[str, Any]]:
    from agent.policy import rules

    def tools(state: AgentState) -> dict[str, Any]:
        call = ToolCall.model_validate((state.get("pending") or [])[0])
        allowed = dict(state.get("allowed") or {})
        grant = allowed.pop(call.id, None)
        # Defence in depth: only a call with an allow decision made for this exact call id may run.
        if grant is None or grant.get("outcome") != "allow":
            raise PolicyDenied(
                "the tools node was reached without an allow decision for this call",
                rule_id=rules.GRAPH_NO_ALLOW_DECISION,
                call_id=call.id,
            )
        info = DecisionInfo.model_validate(grant)
        spec = tool_spec(call.name)
        assert spec is not None  # policy validated the name
        images = {i.handle: i for i in images_of(state)}
        refs = [images[call.args[a]] for a in spec.image_args]
        obligations = {o["kind"]: o.get("value") for o in info.obligations}
        threshold = obligations.get("verification_threshold_factor")
        human_review = bool(obligations.get("human_review"))
        update: dict[str, Any] = {"allowed": allowed}
        result: dict[str, Any] | None = None
        error: FacegateError | None = None
        start = time.perf_counter()
        try:
            # a consent lookup shows only the records covering this session's purpose (limit_to_purpose); the
            # session purpose is the fallback so that a decision without the obligation cannot widen it
            limit = obligations.get("limit_to_purpose")
            purpose_limit = limit if isinstance(limit, str) else state["purpose"]
            result = _run_tool(deps, spec, call.args, refs, _effective_threshold(deps, threshold), purpose_limit)
        except FacegateError as exc:  # the face engine refused the input: a result the person should hear
            error = exc
        finally:
            deps.tool_ms.append((time.perf_counter() - start) * 1000)
        if result is not None and spec.name == "share_image_with_assistant":
            update["shared"] = sorted({*state.get("shared", []), *(r.handle for r in refs)})
        if obligations.get("do_not_retain_probe") or "do_not_retain_probe" in obligations:
            dropped = _drop_probes(deps, refs)
            if result is not None and dropped:
                result["probe_dropped"] = True
        subjects = sorted({s for s in [*(r.subject for r in refs), call.args.get("claimed_subject"),
                                       call.args.get("subject")] if s})  # fmt: skip
        audit_id = _audit_run(deps, state, spec, call, refs, subjects, info, result, error)
        outcome = ToolOutcome(
            call_id=call.id,
            tool=spec.name,
            args=call.args,
            status="ok" if error is None else "error",
            decision=info,
            result=result,
            error_code=error.code if error else None,
            error=error.message if error else None,
            audit_ids=[str(grant.get("audit_id")), audit_id],
            human_review=human_review and error is None,
        )
        return {**_finish(state, outcome), **update}

    return tools


def _effective_threshold(deps: AgentDeps, factor: Any) -> float | None:
    """The distance threshold a verification must use: the stricter of the operator's and the purpose's.

    A purpose's ``verification_threshold_factor`` obligation is a fraction of the face model's own threshold
    for its metric (``engine.model_threshold()``: DeepFace's, whatever the operator set), so it means the same
    for Dlib/cosine as for Facenet512/euclidean_l2. It may only tighten matching: when the operator configured
    a stricter threshold (``engine.default_threshold()``), that one stands. None: no obligation, the engine's
    own default applies.
    """
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 1:
        return None
    # Optional on the protocol: an engine without them (the overhead benchmark's no-op) has no threshold to scale.
    default = getattr(deps.engine, "default_threshold", None)
    model = getattr(deps.engine, "model_threshold", None)
    base = model if callable(model) else default
    if not callable(base):
        return None
    # four decimals: 0.857 x Dlib/cosine's 0.07 reads 0.06, not 0.05999 (distances are compared far coarser)
    strict = round(float(factor) * float(base()), 4)
    return min(float(default()), strict) if callable(default) else strict


def _run_tool(
    deps: AgentDeps,
    spec: ToolSpec,
    args: dict[str, Any],
    refs: list[ImageHandle],
    threshold: float | None,
    purpose_limit: str,
) -> dict[str, Any]:
    engine, vault = deps.engine, deps.vault
    if spec.name == "verify_faces":
        res = engine.verify(vault.get(refs[0].sha256), vault.get(refs[1].sha256), threshold=threshold)
        return _public(res)
    if spec.name == "verify_identity":
        subject = args["claimed_subject"]
        template = deps.store.get_template(
            subject, model=deps.settings.model, detector=deps.settings.detector, now=deps.clock()
        )
        if template is None:
            from tools.errors import NotFoundError

            raise NotFoundError(f"no enrolled template for {subject!r}", subject=subject)
        res = engine.verify_against_template(
            vault.get(refs[0].sha256),
            list(template.vector),
            template_model=template.model,
            template_detector=template.detector,
            threshold=threshold,
        )
        return _public(res)
    if spec.name == "analyze_expression":
        return _public(engine.analyze_expression(vault.get(refs[0].sha256)))
    if spec.name == "share_image_with_assistant":
        vault.get(refs[0].sha256)  # fails if the pixels are gone from this process
        return {"shared": True, "handle": refs[0].handle}
    if spec.name == "consent_status":
        from agent.consent import describe_consents, records_for_purpose

        records = records_for_purpose(deps.store.consents_for(args["subject"]), purpose_limit)
        return {
            "subject": args["subject"],
            "purpose": purpose_limit,
            "consents": describe_consents(records, deps.clock()),
        }
    # identify_person / infer_attributes are declared so policy can refuse them; there is nothing to run.
    raise PolicyDenied(f"{spec.name} has no implementation", rule_id="tool.not_runnable")


def _public(model: Any) -> dict[str, Any]:
    """A result model as JSON, with anything vector-like removed (results carry none; this is a backstop)."""
    data: dict[str, Any] = model.model_dump(mode="json")
    for key in ("vector", "embedding", "template", "pixels", "array"):
        data.pop(key, None)
    return data


def _drop_probes(deps: AgentDeps, refs: list[ImageHandle]) -> bool:
    dropped = False
    for ref in refs:
        if ref.subject is None:
            dropped = deps.vault.drop(ref.sha256) or dropped
            deps.engine.forget(ref.sha256)
    return dropped


def _audit_run(
    deps: AgentDeps,
    state: AgentState,
    spec: ToolSpec,
    call: ToolCall,
    refs: list[ImageHandle],
    subjects: list[str],
    info: DecisionInfo,
    result: dict[str, Any] | None,
    error: FacegateError | None,
) -> str:

    summary: dict[str, Any] = {"tool": spec.name, "call_id": call.id}
    if result is not None:
        for key in ("verified", "distance", "threshold", "model", "detector", "metric", "faces_in_a", "faces_in_b"):
            if key in result:
                summary[key] = result[key]
        if spec.name == "analyze_expression":
            summary["faces"] = len(result.get("faces", []))
            summary["dominant"] = [f.get("dominant") for f in result.get("faces", [])]
        if result.get("probe_dropped"):
            summary["probe_dropped"] = True
    if error is not None:
        summary["error"] = error.code
    return _append_audit(
        deps, state, kind="tool_run", subjects=subjects, capability=spec.capability.value,
        outcome="ok" if error is None else "error", rule_id=info.rule_id, policy_hash=info.policy_hash,
        refs=refs, summary=summary,
    )  # fmt: skip


__all__ = [
    "AgentDeps",
    "EngineLike",
    "consent_node",
    "make_policy_node",
    "make_reason_node",
    "make_tools_node",
    "route_after_policy",
    "route_after_reason",
    "route_after_tools",
]
