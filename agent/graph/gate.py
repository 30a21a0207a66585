"""The gate every tool call passes: put the call to policy, then run it only on its own allow decision.

:meth:`ToolGate.admit` validates the call's arguments, resolves its image handles, builds the
:class:`PolicyRequest`, reads the subjects' consents at that moment (a revocation made elsewhere counts on the
next call), calls :func:`decide` and audits the decision. :meth:`ToolGate.run` runs exactly the one call that
carries an allow decision for its call id, applies the decision's obligations (threshold, purpose limit, probe
retention, human review) and audits the run. The graph's policy and tools nodes are thin wrappers around these
two; anything that serves single calls outside the graph (an MCP server with a purpose fixed at launch) uses the
same gate and so the same code.

Provenance: a gate is given the C2PA reports of the session's images (``ToolGate(deps, provenance=reports)``, by
sha256, checked when the images were attached). Every request it builds carries them, with the status of any
liveness nonce and whether trust anchors are configured; an allow that rests on a liveness attestation spends
its nonce right after :func:`decide` (:func:`agent.capture.settle_liveness`), before the decision is audited.
Images with no report are decided as not checked (a purpose that needs a trusted capture refuses them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue, ValidationError

from agent.capture import attach_provenance, settle_liveness
from agent.errors import FacegateError, MalformedToolCall, PolicyDenied
from agent.graph.messages import (
    DecisionRecord,
    ImageHandle,
    ImageProvenance,
    ToolCall,
    ToolOutcome,
    ToolResultModel,
)
from agent.graph.state import ConsentQuestion, ConsentReply, Session
from agent.graph.toolset.base import ToolRequest
from agent.logging import get_logger
from agent.policy import rules
from agent.policy.decide import decide
from agent.policy.models import ConsentRecord, Decision, PolicyRequest
from agent.policy.subject_id import SUBJECT_ID_RULE, is_subject_id
from agent.policy.tool_specs import ToolSpec
from tools.provenance.describe import liveness_statement, provenance_statement

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from tools.protocol import FaceEngineProtocol
    from tools.provenance.models import ProvenanceReport

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
    """Policy decision + audit before a tool call, tool run + audit after it, for one session's calls.

    Args:
        deps: what the agent runs with.
        provenance: the C2PA reports of the session's images, by sha256 (the graph keeps them in its state).
    """

    def __init__(self, deps: AgentDeps, *, provenance: Mapping[str, ProvenanceReport] | None = None) -> None:
        self.deps = deps
        self.provenance: dict[str, ProvenanceReport] = dict(provenance or {})

    def with_provenance(self, reports: Mapping[str, ProvenanceReport]) -> ToolGate:
        """The same gate for a session whose images carry these reports."""
        return ToolGate(self.deps, provenance=reports)

    # --- before: decide ----------------------------------------------------------------------------------

    def admit(
        self,
        call: ToolCall,
        session: Session,
        images: Sequence[ImageHandle],
        *,
        answer: ConsentReply | None = None,
        pictured: Sequence[str] | None = None,
    ) -> Admission:
        """Put ``call`` to policy. ``answer``: the person's reply when this call already paused for consent;
        ``pictured``: the people a consent lookup may be about (default: those the thread's images are labelled
        with; a caller with no conversation, such as an MCP host, names them itself)."""
        resolved = self._resolve(call, session, images)
        if isinstance(resolved, ToolOutcome):
            return Rejected(resolved)
        spec, args = resolved.spec, resolved.args
        if pictured is None:
            pictured = tuple(dict.fromkeys(i.subject for i in images if i.subject))
        request = self.request(spec, args, resolved.images, session, with_template=True, pictured=pictured)
        decision, consents = self._decide(request)
        # An allow that rests on a liveness attestation spends its nonce now, before anything is audited or run:
        # another process presenting the same capture in between makes this a replay, decided again.
        request, decision = settle_liveness(
            self.deps.store, request, decision, consents=consents, policy=self.deps.policy, now=self.deps.clock()
        )
        asked_already = answer is not None and answer.call_id == call.id

        if decision.outcome == "needs_consent" and session.human_present and not asked_already:
            audit_id = self._audit(request, decision, call, note="asking a person")
            record = DecisionRecord.of(decision, call_id=call.id, tool=spec.name, audit_id=audit_id)
            return AskConsent(ConsentQuestion(call=call, purpose=session.purpose, decision=record))
        if decision.outcome == "needs_consent" and answer is not None and asked_already:
            failure = f"{answer.error or 'invalid_consent'}: {answer.message}" if answer.message else None
            if failure:
                why = f" Consent was granted but could not be recorded: {failure[:300]}"
            elif answer.declined and answer.consent_ids:
                why = f" Consent was recorded for those who gave it; {', '.join(answer.declined)} did not consent."
            else:
                why = " Consent was not recorded when asked."
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
        return self._decide(request)[0]

    def _decide(self, request: PolicyRequest) -> tuple[Decision, list[ConsentRecord]]:
        involved = sorted(
            {s for s in [*(i.subject_id for i in request.images), request.claimed_subject, request.subject] if s}
        )
        consents = self.deps.store.consents_for_many(involved) if involved else []
        return decide(request, consents, self.deps.policy, self.deps.clock()), consents

    def request(
        self,
        spec: ToolSpec,
        args: Mapping[str, Any],
        images: Sequence[ImageHandle],
        session: Session,
        *,
        with_template: bool = False,
        pictured: Sequence[str] = (),
    ) -> PolicyRequest:
        """The policy request for a call of ``spec`` (``with_template``: look up the claimed identity's template,
        which only a decision needs; ``pictured``: the subjects the thread's images are labelled with)."""
        claimed = args.get("claimed_subject") if "claimed_subject" in spec.subject_args else None
        subject = args.get("subject") if "subject" in spec.subject_args else None
        template_purpose = None
        if claimed and with_template:
            settings = self.deps.settings
            template_purpose = self.deps.store.template_purpose(
                claimed, model=settings.model, detector=settings.detector, now=self.deps.clock()
            )
        refs = [i.ref for i in images]
        if refs:
            refs = attach_provenance(
                refs, self.provenance, self.deps.store, purpose=session.purpose, claimed_subject=claimed,
                now=self.deps.clock(),
            )  # fmt: skip
        return PolicyRequest(
            tool=spec.name,
            capability=spec.capability,
            purpose=session.purpose,
            images=refs,
            trust_anchors_configured=self.deps.provenance.anchors_configured,
            claimed_subject=claimed,
            subject=subject,
            requested_attributes=list(args.get("attributes") or []),
            claimed_subject_enrolled=template_purpose is not None,
            claimed_template_purpose=template_purpose,
            session_id=session.session_id,
            actor=session.actor,
            stated_purpose=session.stated_purpose,
            pictured_subjects=tuple(pictured),
        )

    def _resolve(self, call: ToolCall, session: Session, images: Sequence[ImageHandle]) -> _Resolved | ToolOutcome:
        """The call's spec, validated arguments and images; or the malformed outcome that says what is wrong."""
        if call.refused is not None:
            # bounded where the reasoner's step entered the state: only the sizes were kept, never the content
            message = f"the arguments of the function call were not kept: {call.refused}"
            return self._malformed(call, session, message, unknown_tool=False)
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
        refusal: PolicyDenied | None = None
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
        except PolicyDenied as exc:  # refused at run time, once the engine saw the pixels (bystanders)
            refusal = exc
        except FacegateError as exc:  # the engine refused the input: a result the person should hear
            error = exc
        finally:
            self.deps.tool_ms.append((time.perf_counter() - start) * 1000)
        dropped = "do_not_retain_probe" in obligations and self._drop_probes(refs)
        summary: dict[str, JsonValue] = dict(tool.audit_summary(result)) if tool and result is not None else {}
        if result is not None and dropped:
            summary["probe_dropped"] = True
        audited = self.request(spec, resolved.args, refs, session)
        if refusal is not None:
            return Ran(self._refused_at_run(call, spec, licence, refusal, audited))
        entry = self.deps.audit.tool_run(
            audited,
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
            provenance=self._provenance_notes(refs, licence) if result is not None and spec.reads_face else [],
        )
        return Ran(outcome, shares)

    def _refused_at_run(
        self, call: ToolCall, spec: ToolSpec, licence: DecisionRecord, refusal: PolicyDenied, request: PolicyRequest
    ) -> ToolOutcome:
        """A call allowed up front and refused once the engine had looked (several faces, none of them singled
        out): the run row says what was looked at (counts, never boxes of bystanders), a decision row the rule."""
        figures: dict[str, JsonValue] = {
            k: v for k, v in refusal.details.items() if k in ("image", "faces_seen", "faces_analysed")
        }
        run = self.deps.audit.tool_run(request, licence, error_code=refusal.code, call_id=call.id, summary=figures)
        decision = Decision(
            outcome="deny", rule_id=refusal.rule_id, reason=refusal.message, policy_hash=licence.policy_hash
        )
        log.info("policy.refused_at_run", tool=spec.name, call_id=call.id, rule_id=refusal.rule_id)
        entry = self.deps.audit.decision(request, decision, call_id=call.id, note="refused at run time", extra=figures)
        outcome = self._denied(call, spec, decision, entry.audit_id, refusal.code)
        ids = [a for a in (licence.audit_id, run.audit_id, entry.audit_id) if a]
        return outcome.model_copy(update={"audit_ids": ids})

    def _provenance_notes(self, refs: Sequence[ImageHandle], licence: DecisionRecord) -> list[ImageProvenance]:
        """What was checked of each image's provenance, as the answer may state it; liveness only for the images
        whose nonce this very call spent."""
        spent = {str(o.value) for o in licence.obligations if o.kind == "spend_liveness_nonce"}
        notes = []
        for ref in refs:
            report = self.provenance.get(ref.sha256)
            live = report is not None and report.liveness is not None and report.liveness.nonce in spent
            notes.append(
                ImageProvenance(
                    handle=ref.handle,
                    state=report.state if report is not None else "not_checked",
                    statement=provenance_statement(report),
                    liveness=liveness_statement(report) if live else None,
                )
            )
        return notes

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
