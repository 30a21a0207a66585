"""facegate's face tools for an MCP host, transport aside: every call through the same gate as the graph's.

The MCP host takes the reasoner's place. :class:`GatedTools` offers four of the graph's tools
(:data:`MCP_TOOLS`); a call's images are loaded through the engine (the SDK's loader and checks: allowed folders,
size and pixel limits, content sniffing) into the vault, a ``session`` audit row names the people the host says
are pictured (as the SDK writes for attached images), and the call goes to :meth:`ToolGate.admit` then
:meth:`ToolGate.run`: the same validation, decision, audit rows and obligations as in the graph. The session's
purpose and operator are fixed when the server starts; no tool takes a purpose, and no person is ever present to
be asked (``human_present`` False), so a missing consent is a refusal: consent is recorded by an operator through
``facegate consent``, never through MCP. Call ids are minted here, never taken from the host.

Nothing outlives a call: the pixels and cached embeddings of every image a call loaded are dropped when it ends
(the host sends them again), which keeps less than the agent does (it keeps the images of consenting people for
the rest of a conversation) and never more.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from agent.errors import ImageInputError, PolicyDenied, PolicyError, UnknownPurpose
from agent.graph.attach import load_checked, provenance_required
from agent.graph.gate import Allowed, AskConsent, ToolGate
from agent.graph.messages import PROBE, DecisionRecord, ImageHandle, ToolCall, ToolOutcome
from agent.graph.state import Session
from agent.graph.toolset.registry import ToolRegistry
from agent.logging import get_logger
from agent.mcp.arguments import ArgumentProblem, ImageSource, Limits, input_schema, parse_arguments
from agent.policy.facts import fact_from_outcome, render_fact

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from agent.policy.tool_specs import ToolSpec
    from agent.settings import Settings
    from tools.provenance.models import ProvenanceReport

log = get_logger(__name__)

MCP_TOOLS = ("verify_identity", "verify_faces", "analyze_expression", "consent_status")
"""What an MCP host is offered. Not ``share_image_with_assistant`` (there is no facegate assistant to show an image
to), nor the prohibited ``identify_person`` / ``infer_attributes`` (declared in the graph so that a model's request
for them reaches policy; over MCP they are unknown tools, refused and audited as ``tool.unknown``)."""


@dataclass(frozen=True)
class ToolListing:
    """One tool as an MCP host lists it (plain JSON schemas; the server wraps them in the SDK's types)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


@dataclass(frozen=True)
class CallReport:
    """What became of one MCP call: the typed outcome, and its text in the agent's grounded wording."""

    outcome: ToolOutcome
    text: str

    @property
    def is_error(self) -> bool:
        """A refusal, a needs-consent, a malformed call or a failed tool: an MCP tool error (``isError``)."""
        return self.outcome.status != "ok"

    @property
    def structured(self) -> dict[str, Any]:
        """The typed outcome as JSON: decision, rule, audit ids and the tool's typed result (no pixels)."""
        return self.outcome.model_dump(mode="json")


def mcp_registry(registry: ToolRegistry) -> ToolRegistry:
    """``registry`` narrowed to :data:`MCP_TOOLS` (the gate then treats any other name as unknown)."""
    specs = [s for s in registry.specs if s.name in MCP_TOOLS]
    tools = [t for t in (registry.tool(s.name) for s in specs) if t is not None]
    return ToolRegistry(specs, tools)


def new_session_id() -> str:
    return "mcp-" + secrets.token_hex(6)


class GatedTools:
    """The MCP tools of one server: purpose and operator fixed at launch, every call through :class:`ToolGate`.

    Calls run one at a time (the face engine is not shared between threads); :meth:`call` blocks, so an async
    server runs it in a worker thread.
    """

    def __init__(self, deps: AgentDeps, *, purpose: str, actor: str) -> None:
        self.deps = replace(deps, tools=mcp_registry(deps.tools))
        self.purpose = purpose
        self.actor = actor
        self.gate = ToolGate(self.deps)
        self.limits = Limits(max_image_bytes=deps.settings.max_image_bytes)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def session(self, session_id: str | None = None, *, actor: str | None = None) -> Session:
        """A session of this server (one per MCP connection). Nobody is present to be asked for consent. ``actor``:
        who the calls are audited as when not the operator who launched the server (over HTTP: the key's name)."""
        return Session(purpose=self.purpose, session_id=session_id or new_session_id(), actor=actor or self.actor)

    # --- listing -------------------------------------------------------------------------------------------

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return self.deps.tools.specs

    def listing(self) -> list[ToolListing]:
        output = ToolOutcome.model_json_schema()
        return [
            ToolListing(
                name=spec.name,
                description=(
                    f"{spec.description} Runs only when facegate's policy allows it for the purpose "
                    f"'{self.purpose}', fixed by the operator; a refusal or a missing consent comes back as an "
                    "error naming the rule and the audit row. Consent cannot be given through this tool."
                ),
                input_schema=input_schema(spec, self.limits),
                output_schema=output,
            )
            for spec in self.specs
        ]

    # --- calls ---------------------------------------------------------------------------------------------

    def call(self, session: Session, name: str, arguments: Mapping[str, Any] | None) -> CallReport:
        """Put one call to policy and run it if allowed; every path writes its audit rows."""
        with self._lock:
            call_id = f"mcp-{next(self._ids)}"
            spec = self.deps.tools.spec(name)
            if spec is None:
                # the gate refuses and audits it (tool.unknown); the host's arguments are not passed on: they may
                # hold an image nobody decided on
                return self._report(self._decide_and_run(ToolCall(id=call_id, name=name[:100]), session, []), [])
            try:
                parsed = parse_arguments(spec, arguments, self.limits)
            except ArgumentProblem as exc:
                return self.refuse(session, spec.name, f"invalid arguments for {spec.name}: {exc}", call_id=call_id)
            handles: list[ImageHandle] = []
            session_row = None
            try:
                try:
                    handles, reports = self._load(parsed.images, session.purpose)
                except _Unusable as exc:
                    return self.refuse(session, spec.name, f"invalid arguments for {spec.name}: {exc}", call_id=call_id)
                session_row = self.deps.audit.images_attached(
                    actor=session.actor, session_id=session.session_id, purpose=session.purpose,
                    images=[h.ref for h in handles],
                )  # fmt: skip
                args: dict[str, JsonValue] = {**parsed.args, **{h.handle: h.handle for h in handles}}
                outcome = self._decide_and_run(
                    ToolCall(id=call_id, name=spec.name, args=args), session, handles, reports
                )
            finally:
                for handle in handles:  # do_not_retain_probe and more: nothing of a call's images outlives it
                    self.deps.forget_image(handle.sha256)
            if session_row is not None:
                outcome = outcome.model_copy(update={"audit_ids": [session_row.audit_id, *outcome.audit_ids]})
            return self._report(outcome, handles)

    def refuse(self, session: Session, tool: str, message: str, *, call_id: str | None = None) -> CallReport:
        """Refuse and audit (``tool.invalid_arguments``) a request that never reached policy: arguments the MCP
        layer found unusable, or a request the transport found malformed or oversize. ``message`` never quotes
        the host's values."""
        call = ToolCall(id=call_id or f"mcp-{next(self._ids)}", name=tool[:100])
        return self._report(self.gate.refuse_malformed(call, session, message), [])

    def forbid(self, session: Session, tool: str, reason: str, *, rule_id: str) -> CallReport:
        """Refuse and audit a call its caller may not make at all (an auditor's API key: ``rule_id`` is an access
        rule), before its arguments are even read. ``tool`` is the host's text: bounded, and ``reason`` must
        not quote it."""
        with self._lock:
            call = ToolCall(id=f"mcp-{next(self._ids)}", name=tool[:100])
            policy_hash = self.deps.policy.hash
            entry = self.deps.audit.refusal(
                actor=session.actor, session_id=session.session_id, purpose=session.purpose, tool=call.name,
                call_id=call.id, reason=reason[:300], rule_id=rule_id, policy_hash=policy_hash,
            )  # fmt: skip
        decision = DecisionRecord(
            outcome="deny", rule_id=rule_id, reason=reason, policy_hash=policy_hash, call_id=call.id, tool=call.name,
            audit_id=entry.audit_id,
        )  # fmt: skip
        outcome = ToolOutcome(
            call_id=call.id, tool=call.name, status="denied", decision=decision, error_code=PolicyDenied.code,
            error=reason, audit_ids=[entry.audit_id],
        )  # fmt: skip
        return self._report(outcome, [])

    def _decide_and_run(
        self,
        call: ToolCall,
        session: Session,
        handles: Sequence[ImageHandle],
        reports: Mapping[str, ProvenanceReport] | None = None,
    ) -> ToolOutcome:
        gate = self.gate.with_provenance(reports or {})
        # An MCP call has no conversation whose images say who is pictured: the host names the person a consent
        # lookup is about, as it labels an image. The answer stays least-disclosure (covered / missing capabilities
        # for the launch purpose only), no more than a refused verification of a labelled image would tell.
        named = call.args.get("subject") if call.name == "consent_status" else None
        pictured = (named,) if isinstance(named, str) else None
        admission = gate.admit(call, session, handles, pictured=pictured)
        if isinstance(admission, Allowed):
            return gate.run(call, admission.licence, session, handles).outcome
        if isinstance(admission, AskConsent):  # cannot happen: nobody is present in an MCP session
            raise PolicyError("an MCP session cannot pause to ask for consent", call_id=call.id)
        return admission.outcome

    def _load(
        self, images: Sequence[ImageSource], purpose: str
    ) -> tuple[list[ImageHandle], dict[str, ProvenanceReport]]:
        """Check each image's provenance on its original bytes and load it through the engine into the vault, as
        the SDK attaches images (:func:`agent.graph.attach.load_checked`); its handle is the argument's name."""
        handles: list[ImageHandle] = []
        reports: dict[str, ProvenanceReport] = {}
        required = provenance_required(self.deps, purpose)
        try:
            for image in images:
                try:
                    loaded, report = load_checked(self.deps, image.source, required=required)
                except ImageInputError as exc:
                    raise _Unusable(self._unusable(image, exc)) from exc
                reports[loaded.sha256] = report
                self.deps.vault.put(loaded)
                handles.append(ImageHandle(handle=image.arg, sha256=loaded.sha256, subject=image.subject))
        except BaseException:  # unusable, or the check cannot run: nothing of this call's images stays
            for handle in handles:
                self.deps.forget_image(handle.sha256)
            raise
        return handles, reports

    def _unusable(self, image: ImageSource, exc: ImageInputError) -> str:
        # the engine's message quotes the path: said again by kind, so a host's text is not echoed
        settings = self.deps.settings
        if image.inline:
            hint = f"the bytes are not a usable image (at most {settings.max_image_bytes} bytes)"
        else:
            folders = ", ".join(str(d) for d in settings.allowed_image_dirs or [])
            hint = f"a path must name a readable image file inside the allowed folders ({folders})"
        return f"{image.arg} could not be used ({exc.code}): {hint}"

    @staticmethod
    def _report(outcome: ToolOutcome, handles: Sequence[ImageHandle]) -> CallReport:
        labels = {h.handle: f"{h.handle} ({h.subject or PROBE})" for h in handles}
        text = render_fact(fact_from_outcome(outcome), labels)
        rows = ", ".join(outcome.audit_ids)
        return CallReport(outcome, f"{text}\n[facegate call {outcome.call_id}; audit row(s) {rows}]")


@contextlib.contextmanager
def open_gated_tools(settings: Settings, *, purpose: str, actor: str) -> Iterator[GatedTools]:
    """The MCP tools on ``settings``' database (which must exist: a server on an empty one would refuse
    everything), after checking the purpose and the face models; the database is closed on exit.

    Raises:
        UnknownPurpose: ``purpose`` is not in the catalogue.
        NotFoundError: there is no facegate database at ``settings.resolved_db_path``.
        ModelUnavailable: the configured face models cannot run.
    """
    from agent.graph.deps import build_deps
    from agent.policy import load_policy
    from agent.reasoners.offline import OfflineReasoner
    from agent.store import Store
    from tools.weights import ensure_ready

    policy = load_policy(settings.policy_file)
    if purpose not in policy.purposes:
        known = ", ".join(sorted(policy.purposes))
        raise UnknownPurpose(f"unknown purpose {purpose!r} (known: {known})", purpose=purpose)
    store = Store.open(settings.resolved_db_path, create=False)
    try:
        ensure_ready(settings)  # a server whose model cannot run would fail every allowed call: fail at start
        # the host is the reasoner: the offline one is only there because AgentDeps has the field (no network)
        deps = build_deps(settings, reasoner=OfflineReasoner(), store=store, policy=policy)
        yield GatedTools(deps, purpose=purpose, actor=actor)
    finally:
        store.close()


class _Unusable(Exception):
    """An image argument the engine refused to load (the message names the kind, not the value)."""


__all__ = [
    "MCP_TOOLS",
    "CallReport",
    "GatedTools",
    "ToolListing",
    "mcp_registry",
    "new_session_id",
    "open_gated_tools",
]
