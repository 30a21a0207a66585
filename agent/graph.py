"""The agent's LangGraph: reason -> policy -> tools -> reason, ending when the reasoner asks for no tool.

The reasoner has no edge to the tools: every call goes through ``policy`` one at a time, and ``tools`` is
reachable only from ``policy`` (pinned by a snapshot of ``get_graph().draw_mermaid()`` in the tests). A
needs-consent decision with a person present goes to ``consent``, which pauses the run with ``interrupt()``
and returns to ``policy`` when resumed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.nodes import (
    AgentDeps,
    consent_node,
    make_policy_node,
    make_reason_node,
    make_tools_node,
    route_after_policy,
    route_after_reason,
    route_after_tools,
)
from agent.state import AgentState

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph


def build_graph(deps: AgentDeps, checkpointer: Any = None) -> CompiledStateGraph:
    """Wire the nodes. ``checkpointer``: a LangGraph saver (SQLite in the SDK, in-memory in tests) or None."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(AgentState)
    nodes: dict[str, Any] = {
        "reason": make_reason_node(deps),
        "policy": make_policy_node(deps),
        "consent": consent_node,
        "tools": make_tools_node(deps),
    }
    for name, node in nodes.items():
        builder.add_node(name, node)
    builder.add_edge(START, "reason")
    builder.add_conditional_edges("reason", route_after_reason, {"policy": "policy", "__end__": END})
    builder.add_conditional_edges(
        "policy",
        route_after_policy,
        {"tools": "tools", "reason": "reason", "policy": "policy", "consent": "consent"},
    )
    builder.add_edge("consent", "policy")
    builder.add_conditional_edges("tools", route_after_tools, {"policy": "policy", "reason": "reason"})
    return builder.compile(checkpointer=checkpointer, name="facegate")


def make_graph() -> CompiledStateGraph:
    """Factory for ``langgraph dev`` (see langgraph.json): builds from Settings when called, not at import.

    It takes no argument so the LangGraph server calls it as is; it supplies its own checkpointer.
    """
    from agent.sdk import build_deps
    from agent.settings import Settings

    return build_graph(build_deps(Settings()))  # type: ignore[call-arg]  # fields have defaults
