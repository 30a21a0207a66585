"""The LangGraph state of a conversation: typed models, never dict dumps, and never pixels or vectors.

LangGraph's checkpoint serializer (langgraph-checkpoint 4.x, msgpack) stores a pydantic model as its class's
module and name plus its field values, and rebuilds it by validating those values, without pickle. It rebuilds
only classes on an allow-list: :func:`agent.graph.deps.serde_allowlist` lists every model and enum reachable from
this state (what :func:`checkpoint_types` names), so another process reads a checkpoint back as the same models.
Images appear only as handles (handle, sha256, claimed subject); their pixels stay in the process's vault.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # the LangGraph server needs it on Python 3.11

from agent.graph.messages import DecisionRecord, ImageHandle, ToolCall, Turn, Usage
from agent.policy.models import StatedPurpose
from tools.provenance.models import ProvenanceReport


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
    """A graph node: reads the state, returns the update."""

    def __call__(self, state: AgentState) -> AgentState: ...


def session_of(state: AgentState, *, actor: str) -> Session:
    """The one place the graph reads who and what a run is for."""
    return Session(
        purpose=state["purpose"],
        session_id=state.get("session_id", ""),
        actor=actor,
        human_present=bool(state.get("human_present", False)),
        stated_purpose=state.get("stated_purpose"),
    )


def images_of(state: AgentState) -> list[ImageHandle]:
    return list(state.get("images", []))


def provenance_of(state: AgentState) -> dict[str, ProvenanceReport]:
    return dict(state.get("provenance") or {})


def transcript_of(state: AgentState) -> list[Turn]:
    return list(state.get("transcript", []))


def checkpoint_types() -> Sequence[type]:
    """The types a checkpoint holds besides the state's: the interrupt's question and the resume value."""
    return (AgentState, ConsentQuestion, ConsentReply)
