"""The ``policy`` node: the only way into ``tools``. It puts the next pending call to the gate, one at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.graph.gate import Allowed, AskConsent, Rejected, ToolGate
from agent.graph.messages import ToolOutcome, Turn
from agent.graph.state import AgentState, Node, images_of, provenance_of, session_of

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.graph.deps import AgentDeps


def make_policy_node(deps: AgentDeps) -> Node:
    gate = ToolGate(deps)

    def policy(state: AgentState, config: RunnableConfig) -> AgentState:
        call = state.get("pending", [])[0]
        session = session_of(state, actor=deps.settings.actor, config=config)
        admission = gate.with_provenance(provenance_of(state)).admit(
            call, session, images_of(state), answer=state.get("consent_answer")
        )
        if isinstance(admission, Allowed):
            return {"allowed": {**state.get("allowed", {}), call.id: admission.licence}, "consent_answer": None}
        if isinstance(admission, AskConsent):
            return {"awaiting": admission.question, "consent_answer": None}
        assert isinstance(admission, Rejected)
        return {**settled(state, admission.outcome), "consent_answer": None}

    return policy


def settled(state: AgentState, outcome: ToolOutcome) -> AgentState:
    """Pop the current call and record its outcome in the transcript."""
    return {"pending": state.get("pending", [])[1:], "transcript": [Turn(role="tool", outcome=outcome)]}
