"""The ``consent`` node: pauses the run until a person answers the consent question.

The SDK shows the person the question and records their consent (never the model), then resumes the run with a
:class:`~agent.graph.state.ConsentReply`; ``policy`` decides the call again with the consents on file then.
"""

from __future__ import annotations

from agent.graph.state import AgentState, ConsentReply


def consent_node(state: AgentState) -> AgentState:
    from langgraph.types import interrupt

    question = state.get("awaiting")
    assert question is not None  # routed here only when the policy node set it
    answer = interrupt(question)
    reply = answer if isinstance(answer, ConsentReply) else ConsentReply.model_validate(answer)
    return {"awaiting": None, "consent_answer": reply.model_copy(update={"call_id": question.call.id})}
