"""The ``tools`` node: runs exactly the one call that carries an allow decision for its call id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.graph.gate import ToolGate
from agent.graph.nodes.policy import settled
from agent.graph.state import AgentState, Node, images_of, provenance_of, session_of

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.graph.deps import AgentDeps


def make_tools_node(deps: AgentDeps) -> Node:
    gate = ToolGate(deps)

    def tools(state: AgentState, config: RunnableConfig) -> AgentState:
        call = state.get("pending", [])[0]
        allowed = dict(state.get("allowed", {}))
        # Defence in depth: the gate refuses to run a call without an allow decision made for this exact call id.
        session = session_of(state, actor=deps.settings.actor, config=config)
        licence = allowed.pop(call.id, None)
        ran = gate.with_provenance(provenance_of(state)).run(call, licence, session, images_of(state))
        update: AgentState = {**settled(state, ran.outcome), "allowed": allowed}
        if ran.shares:
            update["shared"] = sorted({*state.get("shared", []), *ran.shares})
        return update

    return tools
