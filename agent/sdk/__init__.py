"""The SDK: ``FaceAgent`` (the facade), the types it takes and returns, and the events it streams.

Layout: :mod:`agent.sdk.facade` (``FaceAgent``), :mod:`agent.sdk.runner` (turns, resume, per-thread locks,
image retention), :mod:`agent.sdk.events` (one typed event per kind) and :mod:`agent.sdk.models` (inputs and
replies). Importing it loads no LangGraph graph, face model or network client.
"""

from agent.graph.deps import build_deps, sqlite_checkpointer
from agent.graph.messages import (
    ConsentStatusResult,
    DecisionRecord,
    ImageHandle,
    ShareResult,
    ToolCall,
    ToolOutcome,
    ToolResult,
    Turn,
    Usage,
)
from agent.reasoners.base import ReasonerContext
from agent.sdk.events import (
    AgentEvent,
    AnswerEvent,
    AnyEvent,
    ConsentAnswerEvent,
    ConsentRequestEvent,
    DecisionEvent,
    ToolCallsEvent,
    ToolResultEvent,
    UserEvent,
)
from agent.sdk.facade import FaceAgent
from agent.sdk.models import AgentReply, ConsentAnswer, ConsentAnswers, ConsentHandler, ConsentRequest, ImageInput
from tools.results import ExpressionResult, VerificationResult

__all__ = [
    "AgentEvent",
    "AgentReply",
    "AnswerEvent",
    "AnyEvent",
    "ConsentAnswer",
    "ConsentAnswerEvent",
    "ConsentAnswers",
    "ConsentHandler",
    "ConsentRequest",
    "ConsentRequestEvent",
    "ConsentStatusResult",
    "DecisionEvent",
    "DecisionRecord",
    "ExpressionResult",
    "FaceAgent",
    "ImageHandle",
    "ImageInput",
    "ReasonerContext",
    "ShareResult",
    "ToolCall",
    "ToolCallsEvent",
    "ToolOutcome",
    "ToolResult",
    "ToolResultEvent",
    "Turn",
    "Usage",
    "UserEvent",
    "VerificationResult",
    "build_deps",
    "sqlite_checkpointer",
]
