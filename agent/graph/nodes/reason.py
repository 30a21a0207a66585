"""The ``reason`` node: one reasoner step, its images re-decided before and its answer guarded after.

Before the step, every image shared with the reasoner is decided again (:mod:`agent.graph.guards.shared_images`)
and a new message of the person is read for a use other than the session's purpose
(:mod:`agent.graph.guards.stated_purpose`). The step either asks for tool calls (queued as ``pending``, decided
one at a time by ``policy``) or answers; any text it gives, and a structured answer's claims, pass the answer
guards (:mod:`agent.graph.guards`). What a step brings into the state is bounded here, before any checkpoint
keeps it: tool arguments (:class:`agent.graph.messages.ToolCall`), the number of calls, the text. Once the step
budget is spent the fallback reasoner answers from what happened, without asking the model again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import prompts
from agent.graph.gate import ToolGate
from agent.graph.guards.base import AnswerContext, review_answer
from agent.graph.guards.shared_images import SharedImages
from agent.graph.guards.stated_purpose import StatedPurposeCheck
from agent.graph.messages import DecisionRecord, ToolCall, Turn, Usage, last_result, turn_outcomes
from agent.graph.state import AgentState, Node, images_of, provenance_of, session_of, transcript_of
from agent.policy.models import StatedPurpose
from agent.policy.stated_purpose import mismatch_reason
from agent.policy.subject_id import is_subject_id
from agent.reasoners.base import ReasonerContext, ReasonerStep

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.graph.deps import AgentDeps

MAX_CALLS_PER_STEP = 16  # function calls kept from one step; a flood of calls is one malformed call
MAX_TEXT_CHARS = 32_000  # characters of a step's text kept (answers are a few paragraphs)


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
        sharing = SharedImages(gate.with_provenance(provenance_of(state)), session, images, shared_before)
        purpose_check = StatedPurposeCheck(deps, session, steps)
        if transcript and transcript[-1].role == "user":
            purpose_check.read_message(transcript[-1].text or "")

        def context() -> ReasonerContext:
            return ReasonerContext(
                purpose=session.purpose,
                purpose_description=catalogue.description if catalogue else "",
                images=tuple(images),
                shared=sharing.handles,
                shared_image=sharing.reader(),
                human_present=session.human_present,
                max_steps_reached=steps >= deps.settings.max_turn_steps,
                stated_purpose=purpose_check.stated,
                is_subject=_is_subject(deps),
            )

        # The step budget spent: the answer comes from what happened, the model is not asked again.
        ctx = context()
        reasoner = deps.fallback_reasoner if ctx.max_steps_reached else deps.reasoner
        step = reasoner.next_step(transcript, deps.tools.specs, ctx)
        if step.stated_purposes:
            purpose_check.read_reports(step.stated_purposes)
            if _empty(step):  # a step that only reported: ask once more, now knowing the tools are stopped
                again = reasoner.next_step(transcript, deps.tools.specs, context())
                step = again.model_copy(update={"usage": step.usage + again.usage, "stated_purposes": []})
        answer = AnswerContext(
            session=session,
            outcomes=turn_outcomes(transcript),
            images=images,
            shared=sharing.handles,
            step=steps,
            policy_hash=deps.policy.hash,
            earlier=last_result(transcript),
            structured=step.structured,
        )
        # Decisions made outside tool calls (images withdrawn or disclosed, a stated purpose, a withheld answer):
        # audited where they are made, and handed to the SDK so that the reply lists them with the tool calls'.
        decisions: list[DecisionRecord] = [*sharing.decisions, *purpose_check.decisions]
        update: AgentState = {
            "steps": steps + 1,
            "usage": state.get("usage", Usage()) + step.usage,
            "last_usage": step.usage,
        }
        if purpose_check.stated is not None and session.stated_purpose is None:
            update["stated_purpose"] = purpose_check.stated
        if list(sharing.handles) != shared_before:
            update["shared"] = list(sharing.handles)
        text = _bounded_text(step.text)
        if step.malformed is not None or step.tool_calls:
            calls = _unique_ids(step.tool_calls[:MAX_CALLS_PER_STEP], len(transcript))
            problems = [step.malformed[:500]] if step.malformed is not None else []
            if len(step.tool_calls) > MAX_CALLS_PER_STEP:
                problems.append(f"{len(step.tool_calls) - MAX_CALLS_PER_STEP} more function calls in one step "
                                f"(at most {MAX_CALLS_PER_STEP} are kept)")  # fmt: skip
            if problems:
                # An unparseable function call (or a flood of them): routed through policy like any other, where
                # it becomes a malformed outcome the reasoner sees on its next step.
                calls.append(ToolCall(id=f"c{len(transcript)}-m", name="", args={"_malformed": "; ".join(problems)}))
            interim = None
            if text:
                interim, held = review_answer(deps.answer_guards, text, answer, deps.audit, final=False)
                decisions.extend(held)
            update["transcript"] = [Turn(role="assistant", text=interim, tool_calls=calls)]
            update["pending"] = calls
        else:
            if not (text or "").strip() and purpose_check.stated is not None:
                text = _purpose_stopped(purpose_check.stated, session.purpose)
            final, held = review_answer(deps.answer_guards, text or "", answer, deps.audit, final=True)
            decisions.extend(held)
            update["transcript"] = [Turn(role="assistant", text=final)]
            update["pending"] = []
        update["decisions"] = decisions  # this step's only (the SDK reads them from this node's update)
        return update

    return reason


def _empty(step: ReasonerStep) -> bool:
    return not step.tool_calls and step.malformed is None and not (step.text or "").strip()


def _purpose_stopped(stated: StatedPurpose, purpose: str) -> str:
    return str(prompts.data("offline_templates.yaml")["purpose_stated"].format(reason=mismatch_reason(stated, purpose)))


def _bounded_text(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n[the rest of the answer ({len(text) - MAX_TEXT_CHARS:,} characters) was cut]"


def _is_subject(deps: AgentDeps) -> Callable[[str], bool]:
    """One registry lookup per candidate word, remembered for the step; erased people are not on record."""
    seen: dict[str, bool] = {}

    def known(subject: str) -> bool:
        if subject not in seen:
            info = deps.store.get_subject(subject) if is_subject_id(subject) else None
            seen[subject] = info is not None and not info.erased
        return seen[subject]

    return known


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
