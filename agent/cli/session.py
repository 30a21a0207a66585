"""What ``facegate chat`` and ``facegate ask`` share: images, the thread and its purpose, the agent, events.

Nothing heavy is imported at module level (``facegate --help`` stays fast).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from agent.cli.common import load_settings

if TYPE_CHECKING:
    from agent.sdk import AgentEvent, FaceAgent, ImageInput
    from agent.settings import Settings
    from tools.errors import FacegateError

REASONERS = ("auto", "offline", "gemini")


def image_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--image", "images", multiple=True, metavar="SUBJECT=PATH",
        help="Attach an image and say who it shows (SUBJECT 'probe' for nobody claimed); repeatable.",
    )(f)  # fmt: skip


def thread_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--thread", "thread_id", metavar="ID", help="Continue the conversation with this thread id.")(f)
    f = click.option(
        "-c", "--continue", "continue_", is_flag=True,
        help="Continue the most recent conversation (its purpose is kept; --purpose may be left out).",
    )(f)  # fmt: skip
    return click.option("--purpose", help="Purpose of the conversation (from the catalogue); needed for a new one.")(f)


def reasoner_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--reasoner", type=click.Choice(REASONERS), help="Default: auto (Gemini if a key is set, else offline)."
    )(f)


def settings_for(reasoner: str | None) -> Settings:
    """The settings, with logging configured (only the CLI configures output)."""
    from agent.logging import configure_logging

    settings = load_settings(reasoner=reasoner)
    configure_logging(settings.log_level, settings.log_json)
    return settings


def parse_image(spec: str) -> ImageInput:
    """``alice=path`` or ``probe=path`` -> ImageInput."""
    from agent.sdk import ImageInput
    from tools.errors import UserError

    subject, sep, path = spec.partition("=")
    if not sep or not subject or not path:
        raise UserError(f"--image takes SUBJECT=PATH (SUBJECT 'probe' for nobody claimed), not {spec!r}")
    # a str, not a Path: the image loader must see "http://..." as typed to refuse it as a URL
    return ImageInput(source=os.path.expanduser(path), subject=None if subject == "probe" else subject)


def attended() -> bool:
    """Whether a person is at the terminal who can be asked for consent: stdin AND stdout are terminals.

    Fed by a pipe (or printing into one), the next input lines are the script's next messages, not a person's
    answers: nobody is asked, and a request that needs consent is refused.
    """
    return sys.stdin.isatty() and sys.stdout.isatty()


@dataclass(frozen=True)
class Thread:
    """The conversation a command talks in."""

    id: str
    purpose: str
    continued: bool  # it has turns already (its purpose came from its checkpoint)
    turns: int = 0


def resolve_thread(settings: Settings, *, purpose: str | None, continue_: bool, thread_id: str | None) -> Thread:
    """The thread to talk in, and its purpose: a continued thread keeps the one it started with.

    Raises UsageError for contradicting options and UserError for a purpose that is not the thread's.
    """
    import uuid

    from agent.threads import get_thread, latest_thread
    from tools.errors import UserError

    if continue_ and thread_id:
        raise click.UsageError("give -c/--continue or --thread, not both")
    if continue_:
        found = latest_thread(settings)
        if found is None:
            raise UserError(f"no conversation to continue in {settings.home}; start one with --purpose")
    else:
        found = get_thread(settings, thread_id) if thread_id else None
    if found is None or found.purpose is None:
        if not purpose:
            raise click.UsageError("--purpose is needed to start a conversation (or -c to continue the last one)")
        return Thread(id=thread_id or uuid.uuid4().hex[:12], purpose=purpose, continued=False)
    if purpose and purpose != found.purpose:
        raise UserError(
            f"thread {found.thread_id} was started for purpose {found.purpose!r}; a conversation keeps its "
            f"purpose: leave out --purpose, or start a new conversation for {purpose!r}",
            thread_id=found.thread_id,
        )
    return Thread(id=found.thread_id, purpose=found.purpose, continued=True, turns=found.turns)


def make_agent(
    settings: Settings, *, human_present: bool, read: Callable[[str], str] = input, colour: bool = False
) -> FaceAgent:
    """The SDK agent; at a terminal it asks the person there for consent through ``read``."""
    from agent.cli.consent_prompt import prompt_consent
    from agent.sdk import FaceAgent
    from agent.store.db import make_private_dir
    from tools.weights import ensure_ready

    # Before anything is written: a model that cannot run must fail now, not after a consent was recorded.
    ensure_ready(settings)
    make_private_dir(settings.home)  # holds templates and conversations: owner-only when facegate creates it
    agent = FaceAgent(settings, human_present=human_present)
    if human_present:
        agent.consent_handler = functools.partial(
            prompt_consent, purposes=agent.policy.purposes, read=read, colour=colour
        )
    return agent


def check_purpose(agent: FaceAgent, purpose: str) -> None:
    from agent.errors import UnknownPurpose

    if purpose not in agent.policy.purposes:
        raise UnknownPurpose(
            f"unknown purpose {purpose!r} (known: {', '.join(sorted(agent.policy.purposes))})", purpose=purpose
        )


def event_colour(event: AgentEvent) -> str | None:
    """The word whose colour an event's lines take: decisions by outcome, a pause for consent, a failed tool."""
    from agent.sdk import ConsentRequestEvent, DecisionEvent, ToolResultEvent

    if isinstance(event, DecisionEvent):
        return event.decision.outcome
    if isinstance(event, ConsentRequestEvent):
        return "needs_consent"
    if isinstance(event, ToolResultEvent) and event.outcome.status in ("error", "malformed"):
        return "deny"
    return None


def run_turn(agent: FaceAgent, text: str, *, colour: bool, **kwargs: Any) -> list[AgentEvent]:
    """Stream one turn, printing each event as it happens (coloured at a terminal); returns the events."""
    from agent.cli.output import paint
    from agent.render import render_event

    events: list[AgentEvent] = []
    stream: Iterator[AgentEvent] = agent.stream(text, **kwargs)
    try:
        for event in stream:
            events.append(event)
            word = event_colour(event)
            for line in render_event(event):
                click.echo(paint(line, word, enabled=colour))
    finally:
        # An interrupted turn must release the thread at once (the generator holds the thread's lock).
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return events


def fail_line(exc: FacegateError | OSError) -> None:
    """One stderr line for a failed message or command; the chat goes on."""
    from agent.cli.main import one_line, os_message
    from tools.errors import FacegateError

    if isinstance(exc, FacegateError):
        click.echo(f"facegate: {exc.code}: {one_line(exc.message)}", err=True)
    else:
        click.echo(f"facegate: os_error: {os_message(exc)}", err=True)
