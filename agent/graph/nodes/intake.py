"""The ``intake`` node (LangGraph server only): turns a server run's input into the start of a facegate turn.

What the SDK's turn runner does before it starts the graph, done inside the graph for callers that cannot pass
Python objects: the purpose from the run's context (checked against the catalogue and the thread's), the
turn's text from the last user message, the attachments loaded by path into the vault as handles (with the
same checks the SDK's images get), the ``session`` audit row naming whose images were attached, and a fresh
turn. A question the thread was paused on is declined (audited) when a new message arrives instead of an
answer, as in the SDK. Bad input raises a typed error before anything is written: the run fails, the thread
is as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.messages import HumanMessage
from pydantic import ValidationError

from agent.errors import FacegateError, PathNotAllowed, RunInputError, UnknownPurpose, UserError
from agent.graph.gate import Rejected, ToolGate
from agent.graph.images import new_turn_state, register_images
from agent.graph.messages import Turn
from agent.graph.server_state import ImageAttachment, ServerState, problems
from agent.graph.state import AgentState, ConsentReply, Session, caller_of, images_of, run_context

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.runnables import RunnableConfig
    from langgraph.runtime import Runtime

    from agent.graph.deps import AgentDeps
    from agent.graph.state import RunContext

MAX_TEXT = 20_000


def make_intake_node(deps: AgentDeps) -> Callable[..., AgentState]:
    gate = ToolGate(deps)

    def intake(state: ServerState, config: RunnableConfig, runtime: Runtime[RunContext]) -> AgentState:
        try:
            return start_turn(state, config, runtime)
        except FacegateError as exc:  # the caller's input: the message must reach them (see RunInputError)
            raise RunInputError.of(exc) from exc

    def start_turn(state: ServerState, config: RunnableConfig, runtime: Runtime[RunContext]) -> AgentState:
        try:
            context = run_context(runtime.context)
        except ValidationError as exc:
            raise UserError(f"invalid run context: {problems(exc)}") from None
        purpose = _purpose(state, context.purpose, deps)
        thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        caller = caller_of(config)
        session = Session(
            purpose=purpose,
            session_id=thread_id,
            actor=caller.name if caller is not None else deps.settings.actor,
            human_present=context.human_present,
        )
        text = _turn_text(state)
        attachments = _attachments(state, deps)

        declined: list[Turn] = []
        question = state.get("awaiting")
        if question is not None:
            # A new message instead of an answer: the question counts as declined, audited as such (as the SDK does).
            reply = ConsentReply(granted=False, call_id=question.call.id, note="a new message arrived before an answer")
            admission = gate.admit(question.call, session, images_of(state), answer=reply)
            if isinstance(admission, Rejected):
                declined.append(Turn(role="tool", outcome=admission.outcome))

        registered = register_images(
            deps, [(a.path, a.subject) for a in attachments], images_of(state), purpose=purpose
        )
        deps.audit.images_attached(
            actor=session.actor, session_id=thread_id, purpose=purpose, images=[h.ref for h in registered.attached]
        )
        return new_turn_state(
            state,
            registered,
            purpose=purpose,
            session_id=thread_id,
            human_present=context.human_present,
            text=text,
            before=declined,
        )

    return intake


def _purpose(state: ServerState, asked: str | None, deps: AgentDeps) -> str:
    """The caller's purpose: required, in the catalogue, and the thread's own once it has one."""
    kept = state.get("purpose")
    if asked is None and kept is None:
        raise UserError("a run needs a purpose: pass context={'purpose': ...} (a purpose of the policy catalogue)")
    purpose = asked or kept
    assert purpose is not None
    if kept is not None and purpose != kept:
        raise UserError(
            f"this thread was started for purpose {kept!r}; a conversation keeps its purpose: "
            f"start a new thread for {purpose!r}"
        )
    if purpose not in deps.policy.purposes:
        known = ", ".join(sorted(deps.policy.purposes))
        raise UnknownPurpose(f"unknown purpose {purpose!r} (known: {known})", purpose=purpose)
    return purpose


def _turn_text(state: ServerState) -> str:
    """The text of the new user message: the last message, which must be the person's."""
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    if not isinstance(last, HumanMessage):
        raise UserError("a run needs a new user message: input={'messages': [{'role': 'user', 'content': '...'}]}")
    text = last.text.strip()
    if not text:
        raise UserError("the user message has no text")
    if len(text) > MAX_TEXT:
        raise UserError(f"the user message is {len(text)} characters long; at most {MAX_TEXT} are accepted")
    return text


def _attachments(state: ServerState, deps: AgentDeps) -> list[ImageAttachment]:
    raw = state.get("attachments") or []
    try:
        found = [ImageAttachment.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise UserError(f"invalid attachment: {problems(exc)} (give {{'path': ..., 'subject': ...}})") from None
    if found and not deps.settings.allowed_image_dirs:
        # Without a confinement any file the server can read could be attached by any caller.
        raise PathNotAllowed("the server accepts image paths only inside FACEGATE_ALLOWED_IMAGE_DIRS, which is not set")
    return found
