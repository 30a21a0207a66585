"""The graph's state, input and output as the LangGraph server serves them: LangGraph's messages convention
beside facegate's typed state.

A server caller sends ``{"messages": [{"role": "user", "content": "Verify img1 against enrolled alice."}],
"attachments": [{"path": "/srv/doors/7/capture.jpg", "subject": null}]}`` with ``context={"purpose":
"access_control"}`` and gets the answer back as an AI message, with the transcript (typed tool outcomes and
decisions), the image handles and the thread's purpose beside it.

Images are referenced by path, inside ``allowed_image_dirs``, never sent as content: whatever a run's input holds
is stored by the server (its run records, thread history) and returned by its read API, so base64 pixels there
would put faces where auditors read and where no policy decided they may go. A message that carries an image
anyway keeps its text and loses the image (:func:`text_messages`) before anything is checkpointed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, cast

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.channels.ephemeral_value import EphemeralValue
from langgraph.graph.message import add_messages
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict  # the LangGraph server needs it on Python 3.11

from agent.graph.messages import ImageHandle, Turn, Usage
from agent.graph.state import AgentState, ConsentQuestion
from agent.policy.subject_id import SubjectId

DROPPED_IMAGE = "[an image sent inside a message was dropped: attach images by path in `attachments`]"
MAX_PATH = 4096


class ImageAttachment(BaseModel):
    """An image for this turn: a path on the server inside ``allowed_image_dirs``, and who the caller says it
    shows (None: a probe). Nothing else: no bytes, no base64, no URL (URLs are refused when loaded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=MAX_PATH, description="Image file on the server.")
    subject: SubjectId | None = Field(None, description="Subject id the image shows; null for a probe.")


def problems(exc: ValidationError) -> str:
    """A pydantic error as one line for a caller (the first three problems, where they are)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()[:3])


def text_only(message: BaseMessage) -> BaseMessage:
    """The message with every non-text content block (images, audio, files) replaced by a note."""
    if isinstance(message.content, str):
        return message
    blocks: list[str | dict[Any, Any]] = []
    dropped = False
    for block in message.content:
        if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text"):
            blocks.append(block)
        else:
            dropped = True
    if not dropped:
        return message
    blocks.append({"type": "text", "text": DROPPED_IMAGE})
    return message.model_copy(update={"content": blocks})


def text_messages(left: Sequence[AnyMessage] | None, right: Any) -> list[AnyMessage]:
    """``add_messages``, keeping text only: the reducer runs as input is written, before any checkpoint."""
    current: list[Any] = list(left or [])
    merged = add_messages(current, right)
    return [cast(AnyMessage, text_only(m)) for m in cast(list[BaseMessage], merged)]


Messages = Annotated[list[AnyMessage], text_messages]
# This run's images only: an ephemeral channel is cleared after the step that reads it, so the attachments of a
# run that failed are not picked up by the next one.
Attachments = Annotated[list[ImageAttachment], EphemeralValue(list)]


class ServerState(AgentState, total=False):
    """:class:`AgentState` plus the server's conversation channels."""

    messages: Messages
    attachments: Attachments  # this run's, read once by the intake node


class ServerInput(TypedDict, total=False):
    """A turn through the server: the person's message (the last user message is the turn's text) and images."""

    messages: Messages
    attachments: Attachments


class ServerOutput(TypedDict, total=False):
    """What a run returns: the answer as the last AI message, and facegate's typed record of the turn."""

    messages: Messages
    purpose: str
    images: list[ImageHandle]
    transcript: list[Turn]
    awaiting: ConsentQuestion | None
    usage: Usage
