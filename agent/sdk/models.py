"""The SDK's public types: what callers pass in (images, consent answers) and get back (replies, requests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.graph.messages import DecisionRecord, ImageHandle, ToolOutcome, Usage
from agent.graph.state import ConsentAnswer  # defined with the graph, whose server resumes take it too
from agent.policy.models import MissingConsent


class ImageInput(BaseModel):
    """An image to attach: a path, bytes (or an array), and the subject the caller says it shows (None: probe)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    source: Any = Field(repr=False)  # an ImageSource (path, bytes, numpy array, LoadedImage): checked on load
    subject: str | None = None


class ConsentRequest(BaseModel):
    """What a paused run asks a person: the consents missing for one tool call, and the decision."""

    thread_id: str
    call_id: str
    tool: str
    purpose: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    missing: list[MissingConsent] = Field(default_factory=list)
    decision: DecisionRecord | None = None  # always set on a request a paused run makes


ConsentHandler = Callable[[ConsentRequest], ConsentAnswer | None]


class AgentReply(BaseModel):
    """The result of one ``ask``: the answer and everything that happened in the turn.

    ``tool_outcomes[i].result`` is the tool's typed result (``VerificationResult``, ``ExpressionResult``,
    ``ConsentStatusResult`` or ``ShareResult``).
    """

    thread_id: str
    purpose: str
    answer: str
    status: Literal["done", "awaiting_consent"] = "done"
    tool_outcomes: list[ToolOutcome] = Field(default_factory=list)
    decisions: list[DecisionRecord] = Field(default_factory=list)
    audit_ids: list[str] = Field(default_factory=list)
    images: list[ImageHandle] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    consent_request: ConsentRequest | None = None
