"""The ``reason`` node: one reasoner step, its images re-decided before and its answer guarded after.

Before the step, every image shared with the reasoner is decided again (:mod:`agent.graph.guards.shared_images`).
The step either asks for tool calls (queued as ``pending``, decided one at a time by ``policy``) or answers;
any text it gives passes the answer guards (:mod:`agent.graph.guards`). Once the step budget is spent the
fallback reasoner answers from what happened, without asking the model again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.graph.gate import ToolGate
from agent.graph.guards.base import AnswerContext, review_answer
from agent.graph.guards.shared_images import SharedImages
from agent.graph.messages import DecisionRecord, ToolCall, Turn, Usage, turn_outcomes
from agent.graph.state import AgentState, Node, images_of, session_of, transcript_of
from agent.reasoners.base import ReasonerContext

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.graph.deps import AgentDeps


def make_reason_node(deps: AgentDeps) -> Node:
    gate = ToolGate(deps)

    def reason(state: AgentState, config: RunnableConfig) -> AgentState:
        session = session_of(state, actor=deps.settings.actor, config=config)
        transcript = transcript_of(state)
        steps = state.get("steps", 0)
        images = images_of(state)
        shared_before = list(state.get("shared", []))
        catalogue = deps.policy.purposes.get(session.purpose)
        # Consent can be withdrawn between steps: each sharing is decided again before an image goes out.
        sharing = SharedImages(gate, session, images, shared_before)
        context = ReasonerContext(
            purpose=session.purpose,
            purpose_description=catalogue.description if catalogue else "",
            images=tuple(images),
            shared=sharing.handles,
            shared_image=sharing.reader(),
            human_present=session.human_present,
            max_steps_reached=steps >= deps.settings.max_turn_steps,
        )
        # The step budget spent: the answer comes from what happened, the model is not asked again.
        reasoner = deps.fallback_reasoner if context.max_steps_reached else deps.reasoner
        step = reasoner.next_step(transcript, deps.tools.specs, context)
        answer = AnswerContext(
            session=session,
            outcomes=turn_outcomes(transcript),
            images=images,
            shared=sharing.handles,
            step=steps,
            policy_hash=deps.policy.hash,
        )
        # Decisions made outside tool calls (images withdrawn or disclosed, a withheld answer): audited where they
        # are made, and handed to the SDK so that the reply lists them with the tool calls' decisions.
        decisions: list[DecisionRecord] = list(sharing.decisions)
        update: AgentState = {
            "steps": steps + 1,
            "usage": state.get("usage", Usage()) + step.usage,
            "last_usage": step.usage,
        }
        if list(sharing.handles) != shared_before:
            update["shared"] = list(sharing.handles)
        if step.malformed is not None or step.tool_calls:
            calls = _unique_ids(step.tool_calls, len(transcript))
            if step.malformed is not None:
                # An unparseable function call: routed through policy like any other, where it becomes a
                # malformed outcome the reasoner sees on its next step.
                calls.append(ToolCall(id=f"c{len(transcript)}-m", name="", args={"_malformed": step.malformed[:500]}))
            interim = None
            if step.text:
                interim, held = review_answer(deps.answer_guards, step.text, answer, deps.audit, final=False)
                decisions.extend(held)
            update["transcript"] = [Turn(role="assistant", text=interim, tool_calls=calls)]
            update["pending"] = calls
        else:
            text, held = review_answer(deps.answer_guards, step.text or "", answer, deps.audit, final=True)
            decisions.extend(held)
            update["transcript"] = [Turn(role="assistant", text=text)]
            update["pending"] = []
        update["decisions"] = decisions  # this step's only (the SDK reads them from this node's update)
        return update

    return reason


def _unique_ids(calls: list[ToolCall], base: int) -> list[ToolCall]:
    seen: set[str] = set()
    out: list[ToolCall] = []
    for i, call in enumerate(calls):
        cid = call.id or f"c{base}-{i}"
        if cid in seen:
            cid = f"{cid}-{i}"
        seen.add(cid)
        out.append(call.model_copy(update={"id": cid}))
    return out
