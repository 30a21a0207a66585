"""What a conversation holds: typed messages and the LangGraph state.

The graph's state holds only JSON-safe dicts (dumps of the models below) so that LangGraph's serializer stores
them without pickling and a checkpoint can be read by any process. It holds *handles* to images (a handle, the
sha256 of the image's bytes, and the subject the caller says is pictured), never pixels, embeddings or vectors.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

PROBE = "probe"


class ImageHandle(BaseModel):
    """A registered image as the agent sees it. ``subject`` None means a probe (nobody claimed)."""

    model_config = ConfigDict(frozen=True)

    handle: str
    sha256: str
    subject: str | None = None

    @property
    def label(self) -> str:
        return self.subject or PROBE


class ToolCall(BaseModel):
    """A tool call the reasoner asked for. ``args`` hold handles and subject ids only."""

    id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class DecisionInfo(BaseModel):
    """The part of a policy decision the agent keeps (the full one is in the audit log)."""

    outcome: Literal["allow", "deny", "needs_consent"]
    rule_id: str
    reason: str
    obligations: list[dict[str, Any]] = Field(default_factory=list)
    missing: list[dict[str, Any]] = Field(default_factory=list)
    policy_hash: str | None = None


class ToolOutcome(BaseModel):
    """What became of one tool call: the decision, then a result or an error. Never vectors or pixels."""

    call_id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "denied", "error", "malformed"]
    decision: DecisionInfo | None = None
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error: str | None = None
    audit_ids: list[str] = Field(default_factory=list)
    human_review: bool = False


class Usage(BaseModel):
    """Tokens a reasoner step used (zero for the offline reasoner)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class Turn(BaseModel):
    """One entry of the transcript.

    role ``user``: the person's text (and the handles attached with it); ``assistant``: the reasoner's text
    and/or tool calls; ``tool``: one :class:`ToolOutcome`.
    """

    role: Literal["user", "assistant", "tool"]
    text: str | None = None
    images: list[ImageHandle] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    outcome: ToolOutcome | None = None


class AgentState(TypedDict, total=False):
    """LangGraph state. Every value is JSON-safe; ``transcript`` grows by appending."""

    purpose: str
    session_id: str
    human_present: bool
    images: list[dict[str, Any]]  # ImageHandle dumps
    transcript: Annotated[list[dict[str, Any]], operator.add]  # Turn dumps
    pending: list[dict[str, Any]]  # ToolCall dumps not yet decided
    allowed: dict[str, dict[str, Any]]  # call id -> DecisionInfo dump (allow only)
    awaiting: dict[str, Any] | None  # the consent question the run is paused on
    consent_answer: dict[str, Any] | None  # the person's answer to the last consent question
    shared: list[str]  # handles policy allowed to show the reasoner (llm_image_sharing)
    steps: int  # reasoner steps in the current turn
    usage: dict[str, int]  # Usage dump, summed over the thread
    last_usage: dict[str, int]  # Usage dump of the last reasoner step
    decisions: list[dict[str, Any]]  # decisions the last reason step made outside tool calls (SDK events)


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def transcript_of(state: AgentState) -> list[Turn]:
    return [Turn.model_validate(t) for t in state.get("transcript", [])]


def images_of(state: AgentState) -> list[ImageHandle]:
    return [ImageHandle.model_validate(i) for i in state.get("images", [])]


def current_turn(transcript: list[Turn]) -> list[Turn]:
    """The entries since (and including) the last user message."""
    for i in range(len(transcript) - 1, -1, -1):
        if transcript[i].role == "user":
            return transcript[i:]
    return transcript
