"""The LangGraph state of a conversation: typed models, never dict dumps, and never pixels or vectors.

LangGraph's checkpoint serializer (langgraph-checkpoint 4.x, msgpack) stores a pydantic model as its class's
module and name plus its field values, and rebuilds it by validating those values, without pickle. It rebuilds
only classes on an allow-list: :func:`agent.graph.deps.serde_allowlist` lists every model and enum reachable from
this state (what :func:`checkpoint_types` names), so another process reads a checkpoint back as the same models.
Images appear only as handles (handle, sha256, claimed subject); their pixels stay in the process's vault.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # the LangGraph server needs it on Python 3.11

from agent.graph.messages import DecisionRecord, ImageHandle, ToolCall, Turn, Usage
from agent.policy.models import StatedPurpose
from tools.provenance.models import ProvenanceReport

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


class Session(BaseModel):
    """Who runs the conversation and for what: set by the caller, never by the model."""

    model_config = ConfigDict(frozen=True)

    purpose: str
    session_id: str
    actor: str
    human_present: bool = False
    # A use the person stated in the conversation that is not ``purpose`` (issue 9 item 5): every tool call of the
    # session is then refused; the purpose itself never changes.
    stated_purpose: StatedPurpose | None = None


class ConsentQuestion(BaseModel):
    """What a run paused for: the call that needs consent, under which purpose, and the decision."""

    model_config = ConfigDict(frozen=True)

    call: ToolCall
    purpose: str
    decision: DecisionRecord


class ConsentReply(BaseModel):
    """A person's answer to a :class:`ConsentQuestion`, as the run resumes with it.

    ``granted`` with the consent ids recorded, or not; ``error``/``message``: consent was granted but the
    registry refused to record it (e.g. a term too long), so the call is refused and the person is told why.
    """

    model_config = ConfigDict(frozen=True)

    granted: bool
    consent_ids: list[str] = Field(default_factory=list)
    call_id: str | None = None
    error: str | None = None
    message: str | None = None
    note: str | None = None
    declined: list[str] = Field(default_factory=list)  # people asked who did not consent (others may have)


class ConsentAnswer(BaseModel):
    """A person's answer. ``granted`` True: record consent for every missing item with this notice/evidence.

    The SDK's consent handler returns one; a caller of the LangGraph server resumes a paused run with one
    (``Command(resume={"granted": true, ...})``), which is recorded only for an operator's key.
    """

    model_config = ConfigDict(extra="forbid")

    granted: bool
    notice: str | None = Field(None, max_length=4000)
    evidence_method: str = Field("verbal, recorded by the operator during the session", max_length=200)
    evidence_reference: str | None = Field(None, max_length=200)
    term_days: int = Field(default=30, gt=0)


class RunContext(BaseModel):
    """What the caller of a server run says it is for (LangGraph's ``context``): never the model's to choose.

    ``purpose`` is required on a thread's first run and must match the thread's afterwards; ``human_present``
    says whether the caller can answer a consent question (the run then pauses with an interrupt), otherwise a
    missing consent is a denial. Who is calling is not part of it: that is the authenticated key
    (:func:`caller_of`), which the caller cannot write.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    purpose: str | None = Field(None, description="The purpose of the conversation (a catalogue purpose id).")
    human_present: bool = Field(False, description="A person can answer consent questions during the run.")


class Caller(BaseModel):
    """The principal an authenticated server request came from (the API key's name and role)."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Literal["operator", "auditor"]

    @property
    def may_record_consent(self) -> bool:
        return self.role == "operator"


ROLE_PERMISSION = "facegate:{role}"  # how the auth hook hands a role to the graph: as one of the user's permissions


class AgentState(TypedDict, total=False):
    """LangGraph state. ``transcript`` grows by appending; everything else is replaced by each update."""

    purpose: str
    session_id: str
    human_present: bool
    images: list[ImageHandle]
    provenance: dict[str, ProvenanceReport]  # sha256 -> the C2PA check made when the image was attached
    transcript: Annotated[list[Turn], operator.add]
    pending: list[ToolCall]  # calls not yet decided, in order
    allowed: dict[str, DecisionRecord]  # call id -> its allow decision (the tools node's licence)
    awaiting: ConsentQuestion | None  # the consent question the run is paused on
    consent_answer: ConsentReply | None  # the person's answer to the last consent question
    shared: list[str]  # handles policy allowed to show the reasoner (llm_image_sharing)
    steps: int  # reasoner steps in the current turn
    usage: Usage  # summed over the thread
    last_usage: Usage  # of the last reasoner step
    decisions: list[DecisionRecord]  # decisions the last reason step made outside tool calls (SDK events)
    stated_purpose: StatedPurpose | None  # a use stated in the conversation that differs from the purpose: kept


class Node(Protocol):
    """A graph node: reads the state (and the run's config: who is calling), returns the update."""

    def __call__(self, state: AgentState, config: RunnableConfig) -> AgentState: ...


def session_of(state: AgentState, *, actor: str, config: Mapping[str, Any] | None = None) -> Session:
    """The one place the graph reads who and what a run is for.

    The purpose and whether a person is present are the thread's (set by the SDK's caller, or by the server's
    intake from the run's context); the actor is the authenticated caller of a server run when there is one
    (``config``), else ``actor`` (the settings' operator, for the SDK).
    """
    caller = caller_of(config)
    return Session(
        purpose=state["purpose"],
        session_id=state.get("session_id", ""),
        actor=caller.name if caller is not None else actor,
        human_present=bool(state.get("human_present", False)),
        stated_purpose=state.get("stated_purpose"),
    )


def caller_of(config: Mapping[str, Any] | None) -> Caller | None:
    """The authenticated principal of a LangGraph server run, or None (an SDK run, or no auth configured).

    The server writes ``langgraph_auth_user`` and ``langgraph_auth_permissions`` into the run's configurable
    after the caller's own values (it strips callers' attempts to set them), so they are the key's, not the
    caller's say-so. The role travels as a permission (:data:`ROLE_PERMISSION`).
    """
    configurable = (config or {}).get("configurable") or {}
    user = configurable.get("langgraph_auth_user")
    identity = getattr(user, "identity", None)
    if not isinstance(identity, str) or not identity:
        return None
    permissions = configurable.get("langgraph_auth_permissions") or []
    roles = [r for r in ("operator", "auditor") if ROLE_PERMISSION.format(role=r) in permissions]
    # no role permission: the least a key can do (a principal without a role never records anything)
    return Caller(name=identity, role=roles[0] if roles else "auditor")


def run_context(context: object) -> RunContext:
    """The run's context as a :class:`RunContext` (LangGraph hands over what the caller sent, coerced or not)."""
    if isinstance(context, RunContext):
        return context
    if isinstance(context, Mapping):
        return RunContext.model_validate(dict(context))
    return RunContext()


def images_of(state: AgentState) -> list[ImageHandle]:
    return list(state.get("images", []))


def provenance_of(state: AgentState) -> dict[str, ProvenanceReport]:
    return dict(state.get("provenance") or {})


def transcript_of(state: AgentState) -> list[Turn]:
    return list(state.get("transcript", []))


def checkpoint_types() -> Sequence[type]:
    """The types a checkpoint holds besides the state's: the interrupt's question and the resume value."""
    return (AgentState, ConsentQuestion, ConsentReply)
