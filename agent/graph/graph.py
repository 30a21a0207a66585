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
    from langgraph.graph import StateGraph
    from langgraph.graph.state import CompiledStateGraph

    from agent.graph.deps import AgentDeps
    from agent.graph.server_state import ServerInput, ServerOutput, ServerState
    from agent.graph.state import RunContext


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
    _add_agent_nodes(builder, deps, consent_node)
    builder.add_edge(START, "reason")
    _add_agent_edges(builder, answered=END)
    return builder.compile(checkpointer=checkpointer, name="facegate")


def build_server_graph(
    deps: AgentDeps, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[ServerState, RunContext, ServerInput, ServerOutput]:
    """The same agent for LangGraph's server: ``intake -> reason ... -> finish``.

    Its input is LangGraph's messages convention plus image paths (:class:`ServerInput`), its output the answer as
    an AI message beside facegate's typed state (:class:`ServerOutput`), and its context the caller's purpose
    (:class:`RunContext`). ``intake`` does what the SDK does before a turn, ``finish`` what it does after; the
    consent node records an operator's resume. Between them the nodes and edges are the SDK graph's.
    """
    from langgraph.graph import END, START, StateGraph

    from agent.graph.nodes.consent import make_server_consent_node
    from agent.graph.nodes.finish import make_finish_node
    from agent.graph.nodes.intake import make_intake_node
    from agent.graph.server_state import ServerInput, ServerOutput, ServerState
    from agent.graph.state import RunContext

    builder: StateGraph[ServerState, RunContext, ServerInput, ServerOutput] = StateGraph(
        ServerState, context_schema=RunContext, input_schema=ServerInput, output_schema=ServerOutput
    )
    builder.add_node("intake", make_intake_node(deps))
    _add_agent_nodes(builder, deps, make_server_consent_node(deps))
    builder.add_node("finish", make_finish_node(deps))
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "reason")
    _add_agent_edges(builder, answered="finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, name="facegate")


def _add_agent_nodes(builder: StateGraph[Any, Any, Any, Any], deps: AgentDeps, consent: Any) -> None:
    builder.add_node("reason", make_reason_node(deps))
    builder.add_node("policy", make_policy_node(deps))
    builder.add_node("consent", consent)
    builder.add_node("tools", make_tools_node(deps))


def _add_agent_edges(builder: StateGraph[Any, Any, Any, Any], *, answered: str) -> None:
    """reason -> policy -> (consent -> policy) -> tools -> policy/reason; ``answered``: where an answer goes."""
    builder.add_conditional_edges("reason", route_after_reason, {"policy": "policy", "__end__": answered})
    builder.add_conditional_edges(
        "policy",
        route_after_policy,
        {"tools": "tools", "reason": "reason", "policy": "policy", "consent": "consent"},
    )
    builder.add_edge("consent", "policy")
    builder.add_conditional_edges("tools", route_after_tools, {"policy": "policy", "reason": "reason"})


def make_graph() -> CompiledStateGraph[AgentState, None, AgentState, AgentState]:
    """The SDK graph from Settings, built when called, not at import (LangGraph's server uses
    :func:`agent.server.graph.make_graph`, which builds off its event loop).

    It takes no argument and has no checkpointer: whoever runs it supplies one.
    """
    from agent.graph.deps import build_deps
    from agent.settings import Settings

    return build_graph(build_deps(Settings()))
