"""What a server caller may ask of a facegate thread, checked before the server stores or runs anything.

The LangGraph server offers more than a conversation: writing a thread's state, forking it from an old
checkpoint, ``Command(update=..., goto=...)``, breakpoints, cron jobs, a key-value store. Each of those could put
a tool call and an "allow" into the state without the policy node deciding it, or replay a decision made before
a consent was withdrawn. facegate's threads are written by its graph only, so the auth hook lets through exactly
two things that run: a new message (text, plus image paths) and the answer to a consent question.

:func:`check_run` is pure (it sees the run's payload, never the store) and raises :class:`Refused` with the HTTP
status to answer; :mod:`agent.server.auth` turns that into the server's error response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.graph.server_state import ImageAttachment, problems
from agent.graph.state import ConsentAnswer

INPUT_KEYS = frozenset({"messages", "attachments"})
MAX_MESSAGES = 50  # a turn is one message; a client replaying its history still fits
MAX_ATTACHMENTS = 8
TEXT_BLOCKS = frozenset({"text"})
# Configurable keys that steer LangGraph itself: start from another checkpoint (checkpoint_id, checkpoint_ns,
# checkpoint_map) or replace its internals (__pregel_*). The server's own keys (langgraph_auth_*, __after_seconds__,
# ...) are stripped from what callers send and set by the server, so they are not a caller's.
_STEERING_PREFIXES = ("checkpoint", "__pregel")


class Refused(Exception):
    """A request the server must not act on: ``status`` is the HTTP status, ``detail`` says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def check_run(kwargs: Mapping[str, Any]) -> None:
    """Refuse a run that is not a new message or a consent answer, or that steers the graph past its policy."""
    command = kwargs.get("command")
    given = kwargs.get("input")
    if command is not None and given is not None:
        raise Refused(422, "send either a message (input) or a consent answer (command), not both")
    if command is None and given is None:
        # Running a thread with no input continues it from its last checkpoint: after a failed step that could
        # run a tool on a decision made before a consent was withdrawn.
        raise Refused(422, "a run needs a message (input={'messages': [...]}) or a consent answer (command)")
    if command is not None:
        check_command(command)
    else:
        check_input(given)
    for name in ("interrupt_before", "interrupt_after"):
        if kwargs.get(name):
            raise Refused(403, f"{name} is not offered: facegate pauses a run only to ask for consent")
    configurable = ((kwargs.get("config") or {}).get("configurable")) or {}
    steering = sorted(k for k in configurable if isinstance(k, str) and k.startswith(_STEERING_PREFIXES))
    if steering:
        raise Refused(403, f"a run cannot start from another checkpoint or steer the graph ({', '.join(steering)})")


def check_command(command: Any) -> None:
    if not isinstance(command, Mapping) or set(command) - {"resume"} or "resume" not in command:
        keys = sorted(command) if isinstance(command, Mapping) else type(command).__name__
        raise Refused(403, f"a command may only resume a consent question (command={{'resume': ...}}), got {keys}")
    try:
        ConsentAnswer.model_validate(command["resume"])
    except ValidationError as exc:
        raise Refused(422, "the consent answer is invalid: " + problems(exc)) from None


def check_input(given: Any) -> None:
    if not isinstance(given, Mapping):
        raise Refused(422, "input must be an object: {'messages': [...], 'attachments': [...]}")
    extra = sorted(set(given) - INPUT_KEYS)
    if extra:
        # purpose, images, transcript, allowed, ...: facegate's state is written by its graph, never by a caller
        raise Refused(422, f"input accepts only messages and attachments, not {', '.join(map(str, extra))}")
    messages = given.get("messages") or []
    if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
        raise Refused(422, f"messages must be a list of at most {MAX_MESSAGES} messages")
    for message in messages:
        _check_message(message)
    attachments = given.get("attachments") or []
    if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
        raise Refused(422, f"attachments must be a list of at most {MAX_ATTACHMENTS} images")
    try:
        for item in attachments:
            ImageAttachment.model_validate(item)
    except ValidationError as exc:
        raise Refused(422, "invalid attachment (give {'path': ..., 'subject': ...}): " + problems(exc)) from None


def _check_message(message: Any) -> None:
    content = message.get("content") if isinstance(message, Mapping) else None
    if isinstance(message, Mapping) and isinstance(content, str):
        return
    if isinstance(content, list) and all(
        isinstance(b, str) or (isinstance(b, Mapping) and b.get("type") in TEXT_BLOCKS) for b in content
    ):
        return
    if isinstance(content, list):
        # an image (or audio, a file) inside a message would be stored with the run: images go by path
        raise Refused(422, "messages carry text only; attach images by path in attachments")
    raise Refused(422, "each message needs a role/type and text content")
