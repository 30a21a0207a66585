"""facegate's agent: ``from agent import FaceAgent, ImageInput``.

Names are resolved lazily (module ``__getattr__``) so that importing ``agent`` loads neither LangGraph's
heavier parts nor the face engine; DeepFace is only ever imported on first face-model use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.sdk import (  # noqa: F401
        AgentEvent,
        AgentReply,
        ConsentAnswer,
        ConsentRequest,
        DecisionRecord,
        FaceAgent,
        ImageInput,
    )
    from agent.settings import Settings  # noqa: F401

_LAZY = {
    "FaceAgent": "agent.sdk",
    "ImageInput": "agent.sdk",
    "AgentReply": "agent.sdk",
    "AgentEvent": "agent.sdk",
    "ConsentAnswer": "agent.sdk",
    "ConsentRequest": "agent.sdk",
    "DecisionRecord": "agent.sdk",
    "Settings": "agent.settings",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY)
