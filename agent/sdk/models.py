"""The SDK's public types: what callers pass in (images, consent answers) and get back (replies, requests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.graph.consent_record import ConsentAnswers as ConsentAnswers  # one per person, or one for all
from agent.graph.messages import DecisionRecord, ImageHandle, ToolOutcome, Usage
from agent.graph.state import ConsentAnswer  # defined with the graph, whose server resumes take it too
from agent.policy.models import MissingConsent


class ImageInput(BaseModel):
    """An image to attach: a path, bytes (or an array), and the subject the caller says it shows (None: probe)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    source: Any = Field(repr=False)  # an ImageSource (path, bytes, numpy array, LoadedImage): checked on load
    subject: str | None = None


class ConsentRequest(BaseModel):
    """What a paused run asks: the consents missing for one tool call, and the decision.

    A person consents for themselves only: the SDK asks a consent handler once per person, with
    :meth:`for_subject` (only that person's missing consents), and records each answer for that person alone.
    """

    thread_id: str
    call_id: str
    tool: str
    purpose: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    missing: list[MissingConsent] = Field(default_factory=list)
    decision: DecisionRecord | None = None  # always set on a request a paused run makes

    @property
    def subjects(self) -> list[str]:
        """The people whose consent is missing, in the order the decision names them."""
        return list(dict.fromkeys(m.subject_id for m in self.missing))

    def for_subject(self, subject: str) -> ConsentRequest:
        """The same request, asking only ``subject`` (their missing consents and nobody else's)."""
        return self.model_copy(update={"missing": [m for m in self.missing if m.subject_id == subject]})


ConsentHandler = Callable[[ConsentRequest], ConsentAnswer | None]
"""Asks one person (the request names only their missing consents) and returns their answer, or None when it
will come later through ``resume``."""


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
