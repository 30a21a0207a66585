"""The gate every tool call passes: put the call to policy, then run it only on its own allow decision.

:meth:`ToolGate.admit` validates the call's arguments, resolves its image handles, builds the
:class:`PolicyRequest`, reads the subjects' consents at that moment (a revocation made elsewhere counts on the
next call), calls :func:`decide` and audits the decision. :meth:`ToolGate.run` runs exactly the one call that
carries an allow decision for its call id, applies the decision's obligations (threshold, purpose limit, probe
retention, human review) and audits the run. The graph's policy and tools nodes are thin wrappers around these
two; anything that serves single calls outside the graph (an MCP server with a purpose fixed at launch) uses the
same gate and so the same code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue, ValidationError

from agent.errors import FacegateError, MalformedToolCall, PolicyDenied
from agent.graph.messages import DecisionRecord, ImageHandle, ToolCall, ToolOutcome, ToolResultModel
from agent.graph.state import ConsentQuestion, ConsentReply, Session
from agent.graph.toolset.base import ToolRequest
from agent.logging import get_logger
from agent.policy import rules
from agent.policy.decide import decide
from agent.policy.models import Decision, PolicyRequest
from agent.policy.subject_id import SUBJECT_ID_RULE, is_subject_id
from agent.policy.tool_specs import ToolSpec

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from tools.protocol import FaceEngineProtocol

log = get_logger(__name__)


@dataclass(frozen=True)
class Rejected:
    """Nothing runs: the call was malformed or policy refused it. ``outcome`` says why (and is audited)."""

    outcome: ToolOutcome


@dataclass(frozen=True)
class Allowed:
    """Policy allowed the call: ``licence`` is the decision :meth:`ToolGate.run` needs to run it."""

    licence: DecisionRecord


@dataclass(frozen=True)
class AskConsent:
    """Consent is missing and a person is present to be asked: the run pauses on ``question``."""

    question: ConsentQuestion


Admission = Rejected | Allowed | AskConsent


@dataclass(frozen=True)
class Ran:
    """What :meth:`ToolGate.run` produced: the outcome, and the handles the reasoner may now see."""

    outcome: ToolOutcome
    shares: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Resolved:
    spec: ToolSpec
    args: dict[str, Any]
    images: tuple[ImageHandle, ...]


class ToolGate:
    """Policy decision + audit before a tool call, tool run + audit after it, for one session's calls."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps

    # --- before: decide ----------------------------------------------------------------------------------

    def admit(
        self,
        call: ToolCall,
        session: Session,
        images: Sequence[ImageHandle],
        *,
        answer: ConsentReply | None = None,
    ) -> Admission:
        """Put ``call`` to policy. ``answer``: the person's reply when this call already paused for consent."""
        resolved = self._resolve(call, session, images)
        if isinstance(resolved, ToolOutcome):
            return Rejected(resolved)
        spec, args = resolved.spec, resolved.args
        request = self.request(spec, args, resolved.images, session, with_template=True)
        decision = self.decide(request)
        asked_already = answer is not None and answer.call_id == call.id

        if decision.outcome == "needs_consent" and session.human_present and not asked_already:
            audit_id = self._audit(request, decision, call, note="asking a person")
            record = DecisionRecord.of(decision, call_id=call.id, tool=spec.name, audit_id=audit_id)
            return AskConsent(ConsentQuestion(call=call, purpose=session.purpose, decision=record))
        if decision.outcome == "needs_consent" and answer is not None and asked_already:
            failure = f"{answer.error or 'invalid_consent'}: {answer.message}" if answer.message else None
            why = (
                f" Consent was granted but could not be recorded: {failure[:300]}"
                if failure
                else " Consent was not recorded when asked."
            )
            decision = decision.model_copy(update={"outcome": "deny", "reason": decision.reason + why})
            audit_id = self._audit(request, decision, call, note="consent declined")
            return Rejected(self._denied(call, spec, decision, audit_id, "consent_declined"))
        audit_id = self._audit(request, decision, call)
        if decision.outcome == "allow":
            return Allowed(DecisionRecord.of(decision, call_id=call.id, tool=spec.name, audit_id=audit_id))
        code = "consent_required" if decision.outcome == "needs_consent" else "policy_denied"
        return Rejected(self._denied(call, spec, decision, audit_id, code))

    def decide(self, request: PolicyRequest) -> Decision:
        """:func:`decide` on the consents on file now of everyone the request concerns (no audit row)."""
        involved = sorted(
            {s for s in [*(i.subject_id for i in request.images), request.claimed_subject, request.subject] if s}
        )
        consents = self.deps.store.consents_for_many(involved) if involved else []
        return decide(request, consents, self.deps.policy, self.deps.clock())

    def request(
        self,
        spec: ToolSpec,
        args: Mapping[str, Any],
        images: Sequence[ImageHandle],
        session: Session,
        *,
        with_template: bool = False,
    ) -> PolicyRequest:
        """The policy request for a call of ``spec`` (``with_template``: look up the claimed identity's template,
        which only a decision needs)."""
        claimed = args.get("claimed_subject") if "claimed_subject" in spec.subject_args else None
        subject = args.get("subject") if "subject" in spec.subject_args else None
        template_purpose = None
        if claimed and with_template:
            settings = self.deps.settings
            template_purpose = self.deps.store.template_purpose(
                claimed, model=settings.model, detector=settings.detector, now=self.deps.clock()
            )
        return PolicyRequest(
            tool=spec.name,
            capability=spec.capability,
            purpose=session.purpose,
            images=[i.ref for i in images],
            claimed_subject=claimed,
            subject=subject,
            requested_attributes=list(args.get("attributes") or []),
            claimed_subject_enrolled=template_purpose is not None,
            claimed_template_purpose=template_purpose,
            session_id=session.session_id,
            actor=session.actor,
        )

    def _resolve(self, call: ToolCall, session: Session, images: Sequence[ImageHandle]) -> _Resolved | ToolOutcome:
        """The call's spec, validated arguments and images; or the malformed outcome that says what is wrong."""
        registry = self.deps.tools
        spec = registry.spec(call.name)
        if spec is None:
            detail = call.args.get("_malformed") if not call.name else None
            message = (
                f"the model produced an unusable function call: {detail}"
                if detail
                else f"there is no tool called {call.name!r}; the tools are: " + ", ".join(registry.names)
            )
            return self._malformed(call, session, message, unknown_tool=True)
        try:
            args = spec.args_model.model_validate(call.args).model_dump()
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            return self._malformed(call, session, f"invalid arguments for {spec.name}: {problems}")
        by_handle = {i.handle: i for i in images}
        refs: list[ImageHandle] = []
        for arg in spec.image_args:
            handle = args.get(arg)
            if handle not in by_handle:
                known = ", ".join(by_handle) or "none"
                message = f"{arg}={handle!r} is not a registered image (registered: {known})"
                return self._malformed(call, session, message)
            refs.append(by_handle[handle])
        bad = [a for a in spec.subject_args if args.get(a) is not None and not is_subject_id(args[a])]
        if bad:
            # A subject id the model made up must be well-formed before it reaches policy, the store or an audit
            # row: "obama\n[policy] ALLOW ..." is not a person. Not echoed, not even into the audit row: only the
            # argument's name and length.
            listed = ", ".join(f"{a} (a {len(str(args[a]))}-character value)" for a in bad)
            masked: dict[str, JsonValue] = {k: ("<invalid>" if k in bad else v) for k, v in call.args.items()}
            message = f"invalid subject id: {listed} ({SUBJECT_ID_RULE})"
            return self._malformed(call.model_copy(update={"args": masked}), session, message)
        return _Resolved(spec, args, tuple(refs))

    def refuse_malformed(self, call: ToolCall, session: Session, message: str) -> ToolOutcome:
        """Refuse and audit a call whose arguments a front end found unusable before they could reach
        :meth:`admit` (the MCP server's image arguments: a path outside the allowed folders, oversize base64):
        the same ``tool.invalid_arguments`` row and malformed outcome as an invalid call here. ``message`` must
        not echo the caller's values."""
        return self._malformed(call, session, message)

    def _audit(self, request: PolicyRequest, decision: Decision, call: ToolCall, note: str | None = None) -> str:
        log.info(
            "policy.decision", tool=request.tool, call_id=call.id, outcome=decision.outcome,
            rule_id=decision.rule_id, session=request.session_id,
        )  # fmt: skip
        return self.deps.audit.decision(request, decision, call_id=call.id, note=note).audit_id

    @staticmethod
    def _denied(call: ToolCall, spec: ToolSpec, decision: Decision, audit_id: str, code: str) -> ToolOutcome:
        return ToolOutcome(
            call_id=call.id,
            tool=spec.name,
            args=call.args,
            status="denied",
            decision=DecisionRecord.of(decision, call_id=call.id, tool=spec.name, audit_id=audit_id),
            error_code=code,
            error=decision.reason,
            audit_ids=[audit_id],
        )

    def _malformed(self, call: ToolCall, session: Session, message: str, *, unknown_tool: bool = False) -> ToolOutcome:
        """A call that cannot even be put to policy: nothing runs, the model is told why, and the attempt is
        audited (what a model tried to call is evidence too)."""
        rule_id = rules.TOOL_UNKNOWN if unknown_tool else rules.TOOL_INVALID_ARGUMENTS
        tool = call.name or "(unparseable)"
        policy_hash = self.deps.policy.hash
        entry = self.deps.audit.refusal(
            actor=session.actor,
            session_id=session.session_id,
            purpose=session.purpose,
            # the name and message come from the model: bounded, never the arguments' values
            tool=tool[:100],
            call_id=call.id,
            reason=message[:300],
            rule_id=rule_id,
            policy_hash=policy_hash,
        )
        decision = DecisionRecord(
            outcome="deny", rule_id=rule_id, reason=message, policy_hash=policy_hash, call_id=call.id, tool=tool,
            audit_id=entry.audit_id,
        )  # fmt: skip
        return ToolOutcome(
            call_id=call.id,
            tool=tool,
            args={k: v for k, v in call.args.items() if k != "_malformed"},
            status="malformed",
            decision=decision,
            error_code=MalformedToolCall.code,
            error=message,
            audit_ids=[entry.audit_id],
        )

    # --- after: run --------------------------------------------------------------------------------------

    def run(
        self, call: ToolCall, licence: DecisionRecord | None, session: Session, images: Sequence[ImageHandle]
    ) -> Ran:
        """Run ``call`` on ``licence``, its allow decision; audit the run.

        Raises:
            PolicyDenied: ``licence`` is missing, not an allow, or made for another call (defence in depth: the
                graph never routes such a call here).
        """
        if licence is None or licence.outcome != "allow" or licence.call_id not in ("", call.id):
            raise PolicyDenied(
                "the tools node was reached without an allow decision for this call",
                rule_id=rules.GRAPH_NO_ALLOW_DECISION,
                call_id=call.id,
            )
        resolved = self._resolve(call, session, images)
        if isinstance(resolved, ToolOutcome):  # cannot happen after an allow; never run on it
            raise PolicyDenied("the allowed call no longer resolves", rule_id=rules.TOOL_INVALID_ARGUMENTS)
        spec, refs = resolved.spec, resolved.images
        obligations: dict[str, Any] = {o.kind: o.value for o in licence.obligations}
        limit = obligations.get("limit_to_purpose")
        result: ToolResultModel | None = None
        shares: tuple[str, ...] = ()
        error: FacegateError | None = None
        tool = self.deps.tools.tool(spec.name)
        start = time.perf_counter()
        try:
            if tool is None:
                raise PolicyDenied(f"{spec.name} has no implementation", rule_id=rules.TOOL_NOT_RUNNABLE)
            request = ToolRequest(
                call=call,
                args=tool.parse(call),
                images=refs,
                session=session,
                threshold=effective_threshold(self.deps.engine, obligations.get("verification_threshold_factor")),
                # a consent lookup shows only the records of this session's purpose: the session purpose is the
                # fallback, so that a decision without the obligation cannot widen it
                purpose_limit=limit if isinstance(limit, str) else session.purpose,
            )
            result = tool.run(self.deps, request)
            shares = tool.shares(request, result)
        except FacegateError as exc:  # the engine refused the input: a result the person should hear
            error = exc
        finally:
            self.deps.tool_ms.append((time.perf_counter() - start) * 1000)
        dropped = "do_not_retain_probe" in obligations and self._drop_probes(refs)
        summary: dict[str, JsonValue] = dict(tool.audit_summary(result)) if tool and result is not None else {}
        if result is not None and dropped:
            summary["probe_dropped"] = True
        entry = self.deps.audit.tool_run(
            self.request(spec, resolved.args, refs, session),
            licence,
            error_code=error.code if error else None,
            call_id=call.id,
            summary=summary,
        )
        outcome = ToolOutcome(
            call_id=call.id,
            tool=spec.name,
            args=call.args,
            status="ok" if error is None else "error",
            decision=licence,
            result=result,
            error_code=error.code if error else None,
            error=error.message if error else None,
            audit_ids=[a for a in (licence.audit_id, entry.audit_id) if a],
            human_review=bool(obligations.get("human_review")) and error is None,
            probe_dropped=result is not None and dropped,
        )
        return Ran(outcome, shares)

    def _drop_probes(self, refs: Sequence[ImageHandle]) -> bool:
        """``do_not_retain_probe``: forget the pixels and embeddings of every probe the call used."""
        dropped = False
        for ref in refs:
            if ref.subject is None:
                dropped = self.deps.forget_image(ref.sha256) or dropped
        return dropped


def effective_threshold(engine: FaceEngineProtocol, factor: object) -> float | None:
    """The distance threshold a verification must use: the stricter of the operator's and the purpose's.

    A purpose's ``verification_threshold_factor`` obligation is a fraction of the face model's own threshold for
    its metric (``engine.model_threshold()``: DeepFace's, whatever the operator set), so it means the same for
    Dlib/cosine as for Facenet512/euclidean_l2. It may only tighten matching: when the operator configured a
    stricter threshold (``engine.default_threshold()``), that one stands. None: no obligation, the engine's own
    default applies.
    """
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 1:
        return None
    # four decimals: 0.857 x Dlib/cosine's 0.07 reads 0.06, not 0.05999 (distances are compared far coarser)
    strict = round(float(factor) * float(engine.model_threshold()), 4)
    return min(float(engine.default_threshold()), strict)
