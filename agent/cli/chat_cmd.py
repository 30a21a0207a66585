"""``facegate chat``: a conversation with the consent-gated face assistant, like ``llm chat``.

At a terminal: a line editor with history (prompt_toolkit), Ctrl-C cancels the line (or stops a running turn),
Ctrl-D or /quit ends the chat, decisions in colour, and the person present is asked for consent when a run
pauses. Fed by a pipe: lines are read as they come, nobody is asked, plain text. ``-c`` continues the last
conversation and ``--thread ID`` a given one, with the purpose it started with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agent.cli.session import image_option, reasoner_option, thread_options

if TYPE_CHECKING:
    from agent.cli.line_editor import LineReader
    from agent.sdk import FaceAgent, ImageInput

HELP = """Commands:
  /image SUBJECT PATH   attach an image for the next message (SUBJECT: who it shows, or 'probe')
  /images               list the images attached in this conversation
  /audit                this conversation's audit rows, and whether the chain verifies
  /help                 this help
  /quit                 leave (Ctrl-D too; continue later with -c or --thread ID)
Anything else is a message to the assistant. The purpose is fixed for the whole conversation.
At a terminal, Ctrl-C clears the line you are typing, or stops the turn that is running."""


def register(cli: click.Group) -> None:
    cli.add_command(chat)


@click.command()
@thread_options
@image_option
@reasoner_option
def chat(
    purpose: str | None, continue_: bool, thread_id: str | None, images: tuple[str, ...], reasoner: str | None
) -> int:
    """Talk to the consent-gated face assistant (/help inside for commands).

    Exit 0, or 1 if any message or command in it failed (a script can tell)."""
    from agent.cli.line_editor import LineReader, history_path
    from agent.cli.output import color_enabled
    from agent.cli.session import attended, check_purpose, make_agent, parse_image, resolve_thread, settings_for

    settings = settings_for(reasoner)
    specs = [parse_image(s) for s in images]
    thread = resolve_thread(settings, purpose=purpose, continue_=continue_, thread_id=thread_id)
    present = attended()
    colour = color_enabled()
    reader = LineReader(terminal=present, history=history_path(settings.home) if present else None)
    with make_agent(settings, human_present=present, read=reader.answer, colour=colour) as agent:
        check_purpose(agent, thread.purpose)
        pending = [_attach(agent, s.subject or "probe", str(s.source)) for s in specs]
        click.echo(
            f"facegate chat: purpose {thread.purpose}, thread {thread.id}, reasoner {agent.reasoner.name}. "
            "/help for help."
        )
        if thread.continued:
            click.echo(
                f"facegate chat: continuing a conversation of {thread.turns} message(s); images attached in an "
                "earlier session must be attached again (/image)."
            )
        if not present:
            click.echo(
                "facegate chat: input or output is not a terminal, so nobody can be asked for consent here: "
                "a request that needs consent is refused."
            )
        return _loop(agent, reader, thread.id, thread.purpose, pending, colour=colour)


def _loop(agent: FaceAgent, reader: LineReader, thread: str, purpose: str, pending: list[ImageInput], *,
          colour: bool) -> int:  # fmt: skip
    from agent.cli.session import fail_line, run_turn
    from tools.errors import FacegateError

    failed = False
    while True:
        try:
            line = reader.message("you> ")
        except EOFError:
            click.echo()
            return 1 if failed else 0
        except KeyboardInterrupt:
            if not reader.terminal:
                raise
            continue  # Ctrl-C at the prompt: the line is dropped, the chat goes on
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            outcome = _command(agent, text, thread, pending)
            if outcome is None:
                return 1 if failed else 0
            failed = failed or not outcome
            continue
        try:
            run_turn(agent, text, colour=colour, purpose=purpose, images=pending, thread_id=thread)
        except KeyboardInterrupt:
            if not reader.terminal:
                raise
            click.echo("\n  interrupted: this turn was stopped (what it decided so far is in the audit log)")
        except FacegateError as exc:
            fail_line(exc)
            failed = True
        else:
            pending.clear()
            continue
        pending[:] = _unsent(agent, thread, pending)
        if pending:
            click.echo(f"  {len(pending)} attached image(s) kept for your next message")


def _command(agent: FaceAgent, text: str, thread: str, pending: list[ImageInput]) -> bool | None:
    """Run a slash command: True when it worked, False when it failed, None to leave the chat."""
    from agent.cli.session import fail_line
    from tools.errors import FacegateError

    cmd, _, rest = text.partition(" ")
    if cmd in ("/quit", "/exit"):
        return None
    if cmd == "/help":
        click.echo(HELP)
    elif cmd == "/image":
        parts = rest.split(maxsplit=1)
        if len(parts) != 2:
            click.echo("usage: /image SUBJECT PATH  (SUBJECT 'probe' for nobody claimed)")
            return False
        try:
            pending.append(_attach(agent, parts[0], parts[1]))
        except (FacegateError, OSError) as exc:
            fail_line(exc)
            return False
        click.echo(f"  attached {parts[1]} as {parts[0]} (sent with your next message)")
    elif cmd == "/images":
        for t in agent.transcript(thread):
            for img in t.images:
                click.echo(f"  {img.handle}: {img.label} (sha256 {img.sha256[:12]})")
    elif cmd == "/audit":
        _print_audit(agent, thread)
    else:
        click.echo(f"unknown command {cmd}; /help lists them")
    return True


def _attach(agent: FaceAgent, subject: str, path: str) -> ImageInput:
    """Load and check an image now (not when the next message is sent): a bad one is refused at once."""
    import re

    from agent.cli.session import parse_image
    from agent.sdk import ImageInput
    from agent.store.models import SUBJECT_ID_PATTERN
    from tools.errors import UserError

    spec = parse_image(f"{subject}={path}")
    if spec.subject is not None and not re.fullmatch(SUBJECT_ID_PATTERN, spec.subject):
        shown = repr(spec.subject) if len(spec.subject) <= 60 else repr(spec.subject[:57]) + "..."
        raise UserError(f"invalid subject {shown}: use letters, digits and . _ : @ - (or 'probe' for nobody claimed)")
    return ImageInput(source=agent.engine.load(spec.source), subject=spec.subject)


def _unsent(agent: FaceAgent, thread: str, pending: list[ImageInput]) -> list[ImageInput]:
    """The attached images a failed turn did not register in the thread (they are kept for the next message)."""
    try:
        sent = {img.sha256 for t in agent.transcript(thread) for img in t.images}
    except Exception:  # the thread cannot be read: keep them all; sending one twice keeps its handle
        return list(pending)
    return [p for p in pending if getattr(p.source, "sha256", None) not in sent]


def _print_audit(agent: FaceAgent, thread: str) -> None:
    from agent.cli.output import print_table

    entries = agent.audit_entries(thread)
    rows = [(e.seq, f"{e.ts:%H:%M:%S}", e.kind, e.summary.get("tool", ""), e.outcome or "", e.rule_id or "")
            for e in entries]  # fmt: skip
    print_table(rows, headers=("#", "time", "kind", "tool", "outcome", "rule"), colour_by=4,
                empty="  no audit rows for this conversation yet")  # fmt: skip
    report = agent.store.audit.verify()
    state = "verifies" if report.ok else f"BROKEN at #{report.first_bad_seq}"
    click.echo(f"  audit chain: {state} ({report.rows} rows)")
