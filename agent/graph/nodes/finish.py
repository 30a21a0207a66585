"""The ``finish`` node (LangGraph server only): the answer as an AI message, and the turn's pixels let go.

What the SDK does after a turn, done in the graph: the guarded answer (the last assistant text of the
transcript, already through the answer guards) goes out as LangGraph's AI message, and the pixels of the
thread's probes, and of labelled people without consent for the purpose, leave the vault. A run paused for
consent never gets here, so the call waiting for the answer keeps its images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage

from agent.graph.images import forget_probes, forget_unconsented
from agent.graph.server_state import ServerState
from agent.graph.state import images_of, transcript_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from agent.graph.deps import AgentDeps


def make_finish_node(deps: AgentDeps) -> Callable[..., ServerState]:
    def finish(state: ServerState) -> ServerState:
        answer = next((t.text for t in reversed(transcript_of(state)) if t.role == "assistant" and t.text), "")
        handles = images_of(state)
        forget_probes(deps, handles)
        forget_unconsented(deps, handles, state["purpose"])
        return {"messages": [AIMessage(content=answer, name="facegate")]}

    return finish
