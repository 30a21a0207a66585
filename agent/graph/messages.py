"""What reasoners and the graph share: the transcript's turns, tool calls, their outcomes and typed results.

This module imports nothing of the graph (no LangGraph, no nodes), so reasoners can depend on it without
depending on the graph. Every model is JSON-safe and holds *handles* to images (a handle, the sha256 of the
image's bytes and the subject the caller says is pictured), never pixels, embeddings or vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.policy.consent_view import ConsentView
from agent.policy.models import Decision, ImageRef
from agent.policy.subject_id import SubjectId
from tools.provenance.models import ProvenanceState
from tools.results import ExpressionResult, VerificationResult

PROBE = "probe"


class ImageHandle(BaseModel):
    """A registered image as the agent sees it. ``subject`` None means a probe (nobody claimed)."""

    model_config = ConfigDict(frozen=True)

    handle: str
    sha256: str
    subject: SubjectId | None = None

    @property
    def label(self) -> str:
        return self.subject or PROBE

    @property
    def ref(self) -> ImageRef:
        """The image as a policy request names it."""
        return ImageRef(handle=self.handle, sha256=self.sha256, subject_id=self.subject)


class ToolCall(BaseModel):
    """A tool call the reasoner asked for. ``args`` hold handles and subject ids only."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    args: dict[str, JsonValue] = Field(default_factory=dict)


class DecisionRecord(Decision):
    """A policy decision where it was made: the call (or answer) it decided and its audit row.

    The one decision type of the agent: the graph's state, tool outcomes, events and replies all carry it.
    """

    call_id: str = ""
    tool: str = ""
    audit_id: str | None = None

    @classmethod
    def of(cls, decision: Decision, *, call_id: str, tool: str, audit_id: str | None) -> DecisionRecord:
        return cls(**dict(decision), call_id=call_id, tool=tool, audit_id=audit_id)


class ConsentStatusResult(BaseModel):
    """What ``consent_status`` found: the records covering the session's purpose (``limit_to_purpose``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["consent_status"] = "consent_status"
    subject: str
    purpose: str
    consents: list[ConsentView] = Field(default_factory=list)


class ShareResult(BaseModel):
    """``share_image_with_assistant`` went through: the image goes with the next model requests."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["share"] = "share"
    shared: bool = True
    handle: str


ToolResultModel = VerificationResult | ExpressionResult | ConsentStatusResult | ShareResult
ToolResult = Annotated[ToolResultModel, Field(discriminator="kind")]
"""A tool's result, told apart by its ``kind``: ``reply.tool_outcomes[0].result.faces[0].dominant`` type-checks."""


class ImageProvenance(BaseModel):
    """What was checked of one image's provenance before a tool ran on it, in the words an answer may use.

    ``statement`` is :func:`tools.provenance.provenance_statement` ("signed by X, a trusted signer; unmodified
    since signing; ..."); ``liveness`` is :func:`tools.provenance.liveness_statement` ("liveness asserted by X
    (method)"), set only when this very call spent the image's liveness nonce. Never more than was checked.
    """

    model_config = ConfigDict(frozen=True)

    handle: str
    state: ProvenanceState
    statement: str
    liveness: str | None = None


class ToolOutcome(BaseModel):
    """What became of one tool call: the decision, then a result or an error. Never vectors or pixels."""

    call_id: str
    tool: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    status: Literal["ok", "denied", "error", "malformed"]
    decision: DecisionRecord | None = None
    result: ToolResult | None = None
    error_code: str | None = None
    error: str | None = None
    audit_ids: list[str] = Field(default_factory=list)
    human_review: bool = False
    probe_dropped: bool = False  # do_not_retain_probe: the probe's pixels and embedding were dropped after use
    provenance: list[ImageProvenance] = Field(default_factory=list)  # per image, for a tool that ran


class Usage(BaseModel):
    """Tokens a reasoner step used (zero for the offline reasoner)."""

    model_config = ConfigDict(frozen=True)

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


def current_turn(transcript: Sequence[Turn]) -> list[Turn]:
    """The entries since (and including) the last user message."""
    for i in range(len(transcript) - 1, -1, -1):
        if transcript[i].role == "user":
            return list(transcript[i:])
    return list(transcript)


def turn_outcomes(transcript: Sequence[Turn]) -> list[ToolOutcome]:
    """The tool outcomes of the current turn, in order."""
    return [t.outcome for t in current_turn(transcript) if t.outcome is not None]


__all__ = [
    "PROBE",
    "ConsentStatusResult",
    "DecisionRecord",
    "ImageHandle",
    "ImageProvenance",
    "ShareResult",
    "ToolCall",
    "ToolOutcome",
    "ToolResult",
    "ToolResultModel",
    "Turn",
    "Usage",
    "current_turn",
    "turn_outcomes",
]
