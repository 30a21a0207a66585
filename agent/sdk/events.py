"""What a run streams: one typed event per thing that happened, in order (``FaceAgent.stream``).

Every event has a ``kind`` and a ``thread_id``; its payload is typed per kind (no ``data`` dicts). Nodes'
state updates become events here, and a turn's events fold into an :class:`~agent.sdk.models.AgentReply`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from agent.graph.messages import DecisionRecord, ImageHandle, ToolCall, ToolOutcome, Turn, Usage
from agent.graph.state import ConsentReply
from agent.sdk.models import AgentReply, ConsentRequest


class AgentEvent(BaseModel):
    """Base of every event: what kind, on which thread."""

    kind: str
    thread_id: str


class UserEvent(AgentEvent):
    """The person's message, with the images attached to it (and the audit row naming whose they are)."""

    kind: Literal["user"] = "user"
    text: str
    images: list[ImageHandle] = Field(default_factory=list)
    audit_id: str | None = None


class ToolCallsEvent(AgentEvent):
    """The reasoner asked for tool calls (each is decided by policy before anything runs)."""

    kind: Literal["tool_calls"] = "tool_calls"
    calls: list[ToolCall]
    text: str | None = None
    usage: Usage = Field(default_factory=Usage)


class DecisionEvent(AgentEvent):
    """A policy decision: on a tool call, on an image going to the model, or on an answer a guard withheld."""

    kind: Literal["decision"] = "decision"
    decision: DecisionRecord


class ToolResultEvent(AgentEvent):
    """What became of a tool call (``outcome.result`` is typed)."""

    kind: Literal["tool_result"] = "tool_result"
    outcome: ToolOutcome


class ConsentRequestEvent(AgentEvent):
    """The run paused: a person must answer ``request`` (``FaceAgent.resume``)."""

    kind: Literal["consent_request"] = "consent_request"
    request: ConsentRequest


class ConsentAnswerEvent(AgentEvent):
    """The answer the run resumed with (consent recorded, declined, or not recordable)."""

    kind: Literal["consent_answer"] = "consent_answer"
    answer: ConsentReply


class AnswerEvent(AgentEvent):
    """The turn's answer (after the answer guards)."""

    kind: Literal["answer"] = "answer"
    text: str
    usage: Usage = Field(default_factory=Usage)


AnyEvent = Annotated[
    UserEvent
    | ToolCallsEvent
    | DecisionEvent
    | ToolResultEvent
    | ConsentRequestEvent
    | ConsentAnswerEvent
    | AnswerEvent,
    Field(discriminator="kind"),
]
"""Any event, parsed by its ``kind`` (e.g. ``TypeAdapter(AnyEvent).validate_json(line)``)."""


def events_of(node: str, update: Mapping[str, Any], thread_id: str) -> Iterator[AgentEvent]:
    """Turn one node's state update into events."""
    turns: Sequence[Turn] = update.get("transcript") or []
    if node == "reason":
        # decisions made outside tool calls: images disclosed to or withdrawn from the model, a withheld answer
        for record in update.get("decisions") or []:
            yield DecisionEvent(thread_id=thread_id, decision=record)
        usage = update.get("last_usage") or Usage()
        for turn in turns:
            if turn.tool_calls:
                yield ToolCallsEvent(thread_id=thread_id, calls=turn.tool_calls, text=turn.text, usage=usage)
            else:
                yield AnswerEvent(thread_id=thread_id, text=turn.text or "", usage=usage)
    elif node == "policy":
        for record in (update.get("allowed") or {}).values():
            yield DecisionEvent(thread_id=thread_id, decision=record)
        question = update.get("awaiting")
        if question is not None:
            yield DecisionEvent(thread_id=thread_id, decision=question.decision)
        for turn in turns:
            if turn.outcome is not None:
                if turn.outcome.decision is not None:
                    yield DecisionEvent(thread_id=thread_id, decision=turn.outcome.decision)
                yield ToolResultEvent(thread_id=thread_id, outcome=turn.outcome)
    elif node == "tools":
        for turn in turns:
            if turn.outcome is not None:
                if turn.outcome.status == "denied" and turn.outcome.decision is not None:
                    # refused at run time (several faces, none singled out): a decision of the turn too
                    yield DecisionEvent(thread_id=thread_id, decision=turn.outcome.decision)
                yield ToolResultEvent(thread_id=thread_id, outcome=turn.outcome)


def fold_reply(
    events: Sequence[AgentEvent], *, thread_id: str, purpose: str, images: Sequence[ImageHandle]
) -> AgentReply:
    """A turn's events as one reply: outcomes, decisions and audit ids in the order they happened."""
    outcomes: list[ToolOutcome] = []
    decisions: list[DecisionRecord] = []
    audit_ids: list[str] = []
    answer = ""
    usage = Usage()
    request: ConsentRequest | None = None
    for event in events:
        if isinstance(event, UserEvent) and event.audit_id:
            audit_ids.append(event.audit_id)  # the row naming who was attached
        elif isinstance(event, DecisionEvent):
            decisions.append(event.decision)
            if event.decision.audit_id:
                audit_ids.append(event.decision.audit_id)
        elif isinstance(event, ToolResultEvent):
            outcomes.append(event.outcome)
            audit_ids.extend(a for a in event.outcome.audit_ids if a not in audit_ids)
        elif isinstance(event, AnswerEvent):
            answer = event.text
            usage = usage + event.usage
        elif isinstance(event, ToolCallsEvent):
            usage = usage + event.usage
        elif isinstance(event, ConsentRequestEvent):
            request = event.request
        elif isinstance(event, ConsentAnswerEvent):
            request = None
    return AgentReply(
        thread_id=thread_id,
        purpose=purpose,
        answer=answer,
        status="awaiting_consent" if request is not None else "done",
        tool_outcomes=outcomes,
        decisions=decisions,
        audit_ids=audit_ids,
        images=list(images),
        usage=usage,
        consent_request=request,
    )
