"""The agent's LangGraph: reason -> policy -> tools -> reason, ending when the reasoner asks for no tool.

The reasoner has no edge to the tools: every call goes through ``policy`` one at a time, and ``tools`` is
reachable only from ``policy`` (pinned by a snapshot of ``get_graph().draw_mermaid()`` in the tests). A
needs-consent decision with a person present goes to ``consent``, which pauses the run with ``interrupt()``
and returns to ``policy`` when resumed. Each router sits next to the edges it chooses between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from agent.graph.nodes import consent_node, make_policy_node, make_reason_node, make_tools_node
from agent.graph.state import AgentState

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from agent.graph.deps import AgentDeps


def route_after_reason(state: AgentState) -> Literal["policy", "__end__"]:
    """Tool calls to decide go to policy; an answer ends the turn."""
    return "policy" if state.get("pending") else "__end__"


def route_after_policy(state: AgentState) -> Literal["consent", "reason", "tools", "policy"]:
    """A consent question pauses; an allowed call runs; a settled call makes way for the next, or the answer."""
    if state.get("awaiting"):
        return "consent"
    pending = state.get("pending", [])
    if not pending:
        return "reason"
    if pending[0].id in state.get("allowed", {}):
        return "tools"
    return "policy"


def route_after_tools(state: AgentState) -> Literal["policy", "reason"]:
    """More calls to decide go back to policy; otherwise the reasoner sees the outcomes."""
    return "policy" if state.get("pending") else "reason"


def build_graph(
    deps: AgentDeps, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[AgentState, None, AgentState, AgentState]:
    """Wire the nodes. ``checkpointer``: a LangGraph saver (SQLite in the SDK, in-memory in tests) or None."""
    from langgraph.graph import END, START, StateGraph

    builder: StateGraph[AgentState, None, AgentState, AgentState] = StateGraph(AgentState)
    builder.add_node("reason", make_reason_node(deps))
    builder.add_node("policy", make_policy_node(deps))
    builder.add_node("consent", consent_node)
    builder.add_node("tools", make_tools_node(deps))
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


def make_graph() -> CompiledStateGraph[AgentState, None, AgentState, AgentState]:
    """Factory for ``langgraph dev`` (see langgraph.json): builds from Settings when called, not at import.

    It takes no argument so the LangGraph server calls it as is; it supplies its own checkpointer.
    """
    from agent.graph.deps import build_deps
    from agent.settings import Settings

    return build_graph(build_deps(Settings()))
