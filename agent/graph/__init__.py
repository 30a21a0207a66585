"""The LangGraph agent: typed state, one module per node and guard, tools as objects, and the gate between.

Map: ``messages`` (what reasoners and the graph share), ``state`` (the checkpointed state), ``deps`` (what the
graph runs with, and its checkpointer), ``gate`` (policy + audit before a tool call, run + audit after it),
``toolset/`` (one module per tool), ``guards/`` (answer guards, the shared-image re-check), ``nodes/`` (reason,
policy, tools, consent) and ``graph`` (the wiring and its routers).

Names are resolved lazily so that importing a leaf (``agent.graph.messages``) does not load LangGraph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps, build_deps  # noqa: F401
    from agent.graph.graph import build_graph, make_graph  # noqa: F401
    from agent.graph.state import AgentState  # noqa: F401

_LAZY = {
    "AgentDeps": "agent.graph.deps",
    "AgentState": "agent.graph.state",
    "build_deps": "agent.graph.deps",
    "build_graph": "agent.graph.graph",
    "make_graph": "agent.graph.graph",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY)
