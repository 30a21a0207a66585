"""What reasoners and the graph share: the transcript's turns, tool calls, their outcomes and typed results.

This module imports nothing of the graph (no LangGraph, no nodes), so reasoners can depend on it without
depending on the graph. Every model is JSON-safe and holds *handles* to images (a handle, the sha256 of the
image's bytes and the subject the caller says is pictured), never pixels, embeddings or vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

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


# Bounds on what a model's function call may bring into the state (and so into every checkpoint): tool arguments
# are a few handles and subject ids, so anything near these limits is an attack or a broken model.
MAX_ARG_DEPTH = 8
MAX_ARG_CHARS = 16 * 1024  # all strings and keys together (numbers count 8 each)
MAX_ARG_STRING = 4 * 1024
MAX_ARG_ITEMS = 512  # values and keys together
MAX_CALL_NAME = 100


def argument_problem(args: object) -> str | None:
    """Why ``args`` cannot be kept (too deep, too large, too many items), or None. Never quotes the content.

    Iterative and stopping at the first limit crossed, so measuring a 5 MB or 500-deep value costs as little as
    measuring a legal one (no recursion: a hostile nesting cannot exhaust the stack here).
    """
    if args is None:
        return None
    if not isinstance(args, dict):
        return f"the arguments are a {type(args).__name__}, not an object"
    chars = items = 0
    stack: list[tuple[object, int]] = [(args, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_ARG_DEPTH:
            return f"nested more than {MAX_ARG_DEPTH} levels deep"
        items += 1
        if items > MAX_ARG_ITEMS:
            return f"more than {MAX_ARG_ITEMS} values"
        if isinstance(value, str):
            if len(value) > MAX_ARG_STRING:
                return f"a string of {len(value):,} characters (at most {MAX_ARG_STRING:,})"
            chars += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                chars += len(str(key)) if isinstance(key, str) and len(key) <= MAX_ARG_STRING else MAX_ARG_CHARS + 1
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value[: MAX_ARG_ITEMS + 1])
            if len(value) > MAX_ARG_ITEMS:
                return f"a list of {len(value):,} values (at most {MAX_ARG_ITEMS})"
        else:
            chars += 8
        if chars > MAX_ARG_CHARS:
            return f"more than {MAX_ARG_CHARS:,} characters in all"
    return None


class ToolCall(BaseModel):
    """A tool call the reasoner asked for. ``args`` hold handles and subject ids only.

    Bounded where it is made, before anything keeps it: arguments too deep or too large are dropped and the
    reason (sizes only) is kept in ``refused``; the policy node turns such a call into a malformed outcome. An id
    or a name longer than any real one is cut.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    args: dict[str, JsonValue] = Field(default_factory=dict)
    refused: str | None = None  # why the model's arguments were not kept (sizes only, never their content)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("id", "name"):
            if isinstance(data.get(key), str) and len(data[key]) > MAX_CALL_NAME:
                data[key] = data[key][:MAX_CALL_NAME]
        problem = argument_problem(data.get("args"))
        if problem is not None:
            data["args"] = {}
            data["refused"] = problem
        return data


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
    """What ``consent_status`` tells the assistant, and nothing more (least disclosure): whether an active consent
    for the session's purpose covers a person pictured in the conversation, capability by capability. No record
    ids, notices, evidence, dates, other purposes' records or other people's (GDPR Art. 5(1)(c))."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["consent_status"] = "consent_status"
    subject: str
    purpose: str
    covered: list[str] = Field(default_factory=list)  # capabilities an active consent for the purpose covers
    missing: list[str] = Field(default_factory=list)  # consentable capabilities no active consent covers

    @property
    def active(self) -> bool:
        """Some active consent for the purpose covers the subject."""
        return bool(self.covered)


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


def last_result(transcript: Sequence[Turn]) -> list[ToolOutcome]:
    """The outcomes of the last turn before the current one that had any (what "explain the last result"
    restates), in order; [] when no earlier turn ran a tool."""
    before = len(transcript) - len(current_turn(transcript))
    found: list[ToolOutcome] = []
    for turn in reversed(transcript[:before]):
        if turn.role == "user" and found:
            break
        if turn.outcome is not None:
            found.append(turn.outcome)
    return found[::-1]


__all__ = [
    "MAX_ARG_CHARS",
    "MAX_ARG_DEPTH",
    "MAX_ARG_ITEMS",
    "MAX_ARG_STRING",
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
    "argument_problem",
    "current_turn",
    "last_result",
    "turn_outcomes",
]
