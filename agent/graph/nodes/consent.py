"""The ``consent`` node: pauses the run until a person answers the consent question.

SDK runs (:func:`consent_node`): the SDK shows the person the question and records their consent (never the
model), then resumes the run with a :class:`~agent.graph.state.ConsentReply`. Server runs
(:func:`make_server_consent_node`): the API caller resumes with the person's answer (a
:class:`~agent.graph.state.ConsentAnswer`), which the node records only when the run's authenticated caller is an
operator. Either way ``policy`` decides the call again with the consents on file then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from agent.graph.consent_record import record_or_decline
from agent.graph.server_state import problems
from agent.graph.state import AgentState, ConsentAnswer, ConsentReply, caller_of

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.graph.deps import AgentDeps
    from agent.graph.state import Node


def consent_node(state: AgentState) -> AgentState:
    from langgraph.types import interrupt

    question = state.get("awaiting")
    assert question is not None  # routed here only when the policy node set it
    answer = interrupt(question)
    reply = answer if isinstance(answer, ConsentReply) else ConsentReply.model_validate(answer)
    return {"awaiting": None, "consent_answer": reply.model_copy(update={"call_id": question.call.id})}


def make_server_consent_node(deps: AgentDeps) -> Node:
    def consent(state: AgentState, config: RunnableConfig) -> AgentState:
        from langgraph.types import interrupt

        question = state.get("awaiting")
        assert question is not None  # routed here only when the policy node set it
        value = interrupt(question)
        caller = caller_of(config)
        call_id = question.call.id
        try:
            answer = ConsentAnswer.model_validate(value)
        except ValidationError as exc:
            # Declined rather than raised: LangGraph keeps a failed node's resume value and would hand the same bad
            # value to every later resume. The server's auth hook refuses such a value before it gets here.
            reply = ConsentReply(granted=False, call_id=call_id, error="invalid_consent", message=problems(exc))
        else:
            if caller is None or not caller.may_record_consent:
                # Only an operator records what a person said; anyone else's resume is a refusal, audited by policy.
                who = f"{caller.name} ({caller.role})" if caller else "an unauthenticated caller"
                message = f"consent is recorded by an operator; {who} may not"
                reply = ConsentReply(granted=False, call_id=call_id, error="forbidden", message=message)
            else:
                thread_id = str((config.get("configurable") or {}).get("thread_id") or state.get("session_id", ""))
                reply = record_or_decline(
                    deps, answer, decision=question.decision, call_id=call_id, thread_id=thread_id,
                    actor=caller.name,
                )  # fmt: skip
        return {"awaiting": None, "consent_answer": reply}

    return consent
