"""The one interface every reasoner implements. Reasoners see tool schemas and handles, never the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agent.graph.messages import ImageHandle, ToolCall, Turn, Usage
from agent.policy import StatedPurpose, ToolSpec
from agent.policy.grounding import StructuredAnswer


class ReasonerStep(BaseModel):
    """What a reasoner wants next: tool calls (decided by policy one at a time) or a final text.

    Whatever text it gives, with tool calls or as the answer, passes the answer guards before anyone sees it.

    ``malformed`` is set when the model produced a function call the SDK could not even parse; the graph turns
    it into a MalformedToolCall outcome and asks again (bounded by ``max_turn_steps``).
    """

    text: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    malformed: str | None = None
    # The final answer as structured output (Gemini's ``final_answer``): ``text`` is its prose, and its claims cite
    # the tool calls they rest on, so the grounding guard checks each against the outcome it cites.
    structured: StructuredAnswer | None = None
    # What the model reports the person said the use of the conversation now is (``report_stated_purpose``):
    # decided by policy, never a way to change the purpose.
    stated_purposes: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class ReasonerContext:
    """What a reasoner may know about the session besides the transcript.

    ``shared_image`` returns the JPEG bytes of an image whose handle policy allowed to share with the
    assistant (``llm_image_sharing``); the graph only lists such handles in ``shared``.
    """

    purpose: str
    purpose_description: str = ""
    images: tuple[ImageHandle, ...] = ()
    shared: tuple[str, ...] = ()
    shared_image: Callable[[str], bytes | None] = field(default=lambda handle: None)
    human_present: bool = False
    max_steps_reached: bool = False
    # A use the person stated that is not the purpose: the session's tools are refused from now on.
    stated_purpose: StatedPurpose | None = None
    # Is this a subject id on record? Lets the offline reasoner tell a name ("against obama") from a word ("as
    # usual"); one lookup per candidate word, never a list of who is on record.
    is_subject: Callable[[str], bool] = field(default=lambda subject: False)


@runtime_checkable
class Reasoner(Protocol):
    """Decide the next step of a turn from the transcript so far."""

    name: str

    def next_step(
        self, transcript: Sequence[Turn], tools: Sequence[ToolSpec], context: ReasonerContext
    ) -> ReasonerStep: ...
