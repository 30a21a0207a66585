"""``facegate ask``: one question to the assistant, then exit with a code a script can act on.

Exit codes of a turn (also in the README): 0 when every tool call was allowed and ran and every verification
matched; 6 when policy refused a call (denied, or consent needed and not given); the error family's code
(3 image, 4 face, 5 model, ...) when an allowed tool failed; 11 when a verification ran and did not match.
A refusal outranks a tool failure, which outranks a non-match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from agent.cli.common import json_option
from agent.cli.session import image_option, reasoner_option, thread_options

if TYPE_CHECKING:
    from agent.sdk import AgentEvent, AgentReply

EXIT_REFUSED = 6  # the policy family's code (tools.errors.PolicyError)
EXIT_NOT_VERIFIED = 11


def register(cli: click.Group) -> None:
    cli.add_command(ask)


@click.command()
@click.argument("text")
@thread_options
@image_option
@reasoner_option
@json_option
def ask(
    text: str,
    purpose: str | None,
    continue_: bool,
    thread_id: str | None,
    images: tuple[str, ...],
    reasoner: str | None,
    as_json: bool,
) -> int:
    """One question to the assistant, then exit.

    Exit 0 when everything asked for was allowed, ran and (for a verification) matched; 6 when policy refused;
    11 when a verification did not match; an error family's code when a tool failed."""
    from agent.cli.common import print_json
    from agent.cli.output import color_enabled
    from agent.cli.session import attended, check_purpose, make_agent, parse_image, resolve_thread, run_turn
    from agent.cli.session import settings_for as load

    settings = load(reasoner)
    specs = [parse_image(s) for s in images]
    thread = resolve_thread(settings, purpose=purpose, continue_=continue_, thread_id=thread_id)
    present = attended() and not as_json
    with make_agent(settings, human_present=present, colour=color_enabled()) as agent:
        check_purpose(agent, thread.purpose)
        if as_json:
            reply = agent.ask(text, purpose=thread.purpose, images=specs, thread_id=thread.id)
            print_json(reply.model_dump(mode="json"))
            return reply_exit_code(reply)
        events = run_turn(
            agent, text, colour=color_enabled(), purpose=thread.purpose, images=specs, thread_id=thread.id
        )
    return events_exit_code(events)


def events_exit_code(events: Sequence[AgentEvent]) -> int:
    """What a script should learn from one streamed turn (see the module docstring)."""
    from agent.sdk import DecisionEvent, ToolResultEvent

    decisions = [(e.decision.call_id, e.decision.outcome) for e in events if isinstance(e, DecisionEvent)]
    results = [(e.outcome.status, e.outcome.error_code, e.outcome.result)
               for e in events if isinstance(e, ToolResultEvent)]  # fmt: skip
    return _exit_code(decisions, results)


def reply_exit_code(reply: AgentReply) -> int:
    """The same for a whole reply (``--json``)."""
    decisions = [(d.call_id, d.outcome) for d in reply.decisions]
    return _exit_code(decisions, [(o.status, o.error_code, o.result) for o in reply.tool_outcomes])


def _exit_code(decisions: Sequence[tuple[Any, Any]], results: Sequence[tuple[Any, Any, Any]]) -> int:
    final = dict(decisions)  # call id -> its last decision (a consent given turns needs_consent into allow)
    if any(outcome != "allow" for outcome in final.values()):
        return EXIT_REFUSED
    failed = [exit_code_for(str(code or "")) for status, code, _ in results if status in ("error", "malformed")]
    if failed:
        return failed[0]
    if any(status == "ok" and _field(result, "verified") is False for status, _, result in results):
        return EXIT_NOT_VERIFIED
    return 0


def _field(result: Any, name: str) -> Any:
    """A result field, whether it comes as a dict or as its pydantic model (typed SDK results)."""
    return result.get(name) if isinstance(result, dict) else getattr(result, name, None)


def exit_code_for(code: str) -> int:
    """The exit code of the error family an error code belongs to (1 for a code no class declares)."""
    from tools.errors import FacegateError

    pending: list[type[FacegateError]] = [FacegateError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls.exit_code
        pending.extend(cls.__subclasses__())
    return 1
