"""``facegate chat``, ``facegate ask`` and ``facegate demo``: thin layers over :class:`agent.sdk.FaceAgent`.

Nothing heavy is imported at module level (``facegate --help`` stays fast).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent.cli.common import err, load_settings, print_json

if TYPE_CHECKING:
    from agent.policy import Purpose
    from agent.sdk import ConsentAnswer, ConsentRequest, FaceAgent, ImageInput
    from agent.settings import Settings
    from tools.errors import FacegateError

_T = TypeVar("_T")

DEFAULT_EVIDENCE = "verbal, recorded by the operator during the session"
DEFAULT_TERM_DAYS = 30
MAX_TERM_DAYS = 3650
ATTEMPTS = 3  # a prompt is asked this many times before the consent is taken as declined

HELP = """Commands:
  /image SUBJECT PATH   attach an image for the next message (SUBJECT: who it shows, or 'probe')
  /images               list the images attached in this conversation
  /audit                this conversation's audit rows, and whether the chain verifies
  /help                 this help
  /quit                 leave (the conversation can be resumed with --thread ID)
Anything else is a message to the assistant. The purpose is fixed for the whole conversation."""


def register(sub: argparse._SubParsersAction) -> None:
    chat = sub.add_parser("chat", help="talk to the consent-gated face assistant")
    chat.add_argument("--purpose", required=True, help="purpose of this conversation (from the catalogue)")
    _common(chat)
    chat.set_defaults(handler=chat_handler)

    ask = sub.add_parser("ask", help="one question to the assistant, then exit")
    ask.add_argument("text", help="the question")
    ask.add_argument("--purpose", required=True, help="purpose of this request (from the catalogue)")
    ask.add_argument("--json", action="store_true", help="print the full reply as JSON")
    _common(ask)
    ask.set_defaults(handler=ask_handler)

    demo = sub.add_parser("demo", help="run the scripted, self-explaining scenario on a fresh home")
    demo.add_argument("--photos", type=Path, help="cache folder for the sample photos")
    demo.add_argument("--reasoner", choices=["auto", "offline", "gemini"], help="default: auto")
    demo.add_argument("--json", action="store_true", help="print the report as JSON after the transcript")
    demo.add_argument(
        "--keep", action="store_true", help="keep the temporary home (removed at the end unless --keep or --home)"
    )
    demo.set_defaults(handler=demo_handler)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image", action="append", default=[], metavar="SUBJECT=PATH",
        help="attach an image and say who it shows (SUBJECT 'probe' for nobody claimed); repeatable",
    )  # fmt: skip
    p.add_argument("--thread", help="continue the conversation with this thread id")
    p.add_argument("--reasoner", choices=["auto", "offline", "gemini"], help="default: auto (Gemini if a key is set)")


def parse_image(spec: str) -> ImageInput:
    """``alice=path`` or ``probe=path`` -> ImageInput."""
    from agent.sdk import ImageInput
    from tools.errors import UserError

    subject, sep, path = spec.partition("=")
    if not sep or not subject or not path:
        raise UserError(f"--image takes SUBJECT=PATH (SUBJECT 'probe' for nobody claimed), not {spec!r}")
    # a str, not a Path: the image loader must see "http://..." as typed to refuse it as a URL
    return ImageInput(source=os.path.expanduser(path), subject=None if subject == "probe" else subject)


def _settings(args: argparse.Namespace) -> Settings:
    from agent.logging import configure_logging

    settings = load_settings(args, reasoner=getattr(args, "reasoner", None))
    configure_logging(settings.log_level, settings.log_json)
    return settings


def attended() -> bool:
    """Whether a person is at the terminal who can be asked for consent: stdin AND stdout are terminals.

    Fed by a pipe (or printing into one), the next input lines are the script's next messages, not a person's
    answers: nobody is asked, and a request that needs consent is refused.
    """
    return sys.stdin.isatty() and sys.stdout.isatty()


def _agent(settings: Settings, *, human_present: bool) -> FaceAgent:
    from agent.sdk import FaceAgent
    from agent.store.db import make_private_dir

    make_private_dir(settings.home)  # holds templates and conversations: owner-only when facegate creates it
    agent = FaceAgent(settings, human_present=human_present)
    if human_present:
        agent.consent_handler = functools.partial(prompt_consent, purposes=agent.policy.purposes)
    return agent


class _Declined(Exception):
    """The person at the terminal gave no usable answer (Ctrl-C, end of input, or too many bad answers)."""


def consent_notice(request: ConsentRequest, purposes: Mapping[str, Purpose] | None = None) -> str:
    """The notice shown to the person and recorded with their consent, word for word.

    One text for everyone the paused call needs consent from (the SDK records the same notice for each).
    """
    by_subject: dict[str, list[str]] = {}
    for m in request.missing:
        purpose = m.purpose
        described = purposes.get(purpose) if purposes else None
        what = f"{m.capability.value.replace('_', ' ')} for the purpose {purpose}"
        if described is not None:
            what += f" ({described.description.rstrip('.')})"
        items = by_subject.setdefault(m.subject_id, [])
        if what not in items:
            items.append(what)
    uses = {"; ".join(items) for items in by_subject.values()}
    if len(uses) == 1:
        body = f"facegate will use your face for {uses.pop()}."
    else:
        body = (
            "facegate will use your face for: "
            + "; ".join(f"{subject}: {', '.join(items)}" for subject, items in sorted(by_subject.items()))
            + "."
        )
    return f"{body} The operator records this consent; you can withdraw it at any time."


def prompt_consent(request: ConsentRequest, *, purposes: Mapping[str, Purpose] | None = None) -> ConsentAnswer:
    """Ask the person at the terminal; the consent is recorded by the SDK from this answer, never by the model.

    The notice printed here is the one recorded (``ConsentAnswer.notice``). Any bad answer is asked again;
    Ctrl-C, end of input or repeated bad answers decline. Never raises.
    """
    from agent.sdk import ConsentAnswer

    missing = "; ".join(f"{m.subject_id}: {m.capability} for {m.purpose}" for m in request.missing)
    print(f"\nPolicy needs consent before {request.tool} can run: {missing}.")
    print(f"  ({request.decision.rule_id}: {request.decision.reason})" if request.decision else "")
    subjects = ", ".join(sorted({m.subject_id for m in request.missing}))
    notice = consent_notice(request, purposes)
    print("Notice (show or read it to the person word for word; it is recorded with the consent):")
    print(f"  {notice}")
    try:
        agreed = _ask(
            f"Was {subjects} shown this notice, and did they agree to it now? [y/N] ",
            lambda a: {"y": True, "yes": True, "n": False, "no": False, "": False}.get(a.lower()),
            "answer y or n",
        )
        if not agreed:
            print("  consent not given")
            return ConsentAnswer(granted=False)
        method = _ask(f"How was consent given? [{DEFAULT_EVIDENCE}] ", _evidence, "describe it in 3 to 200 characters")
        term = _ask(
            f"For how many days (1-{MAX_TERM_DAYS})? [{DEFAULT_TERM_DAYS}] ", _term, f"a whole number 1-{MAX_TERM_DAYS}"
        )
    except _Declined as why:
        print(f"\n  consent not recorded ({why})")
        return ConsentAnswer(granted=False)
    return ConsentAnswer(granted=True, notice=notice, evidence_method=method, term_days=term)


def _ask(prompt: str, parse: Callable[[str], _T | None], hint: str) -> _T:
    """Ask until ``parse(answer)`` is not None (at most ATTEMPTS times); raises _Declined otherwise."""
    for _ in range(ATTEMPTS):
        try:
            answer = input(prompt).strip()
        except EOFError:
            raise _Declined("end of input") from None
        except KeyboardInterrupt:
            raise _Declined("interrupted") from None
        value = parse(answer)
        if value is not None:
            return value
        print(f"  not understood: {hint}")
    raise _Declined("no usable answer")


def _evidence(answer: str) -> str | None:
    if not answer:
        return DEFAULT_EVIDENCE
    if 3 <= len(answer) <= 200 and answer.isprintable() and any(c.isalpha() for c in answer):
        return answer
    return None


def _term(answer: str) -> int | None:
    if not answer:
        return DEFAULT_TERM_DAYS
    if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= MAX_TERM_DAYS:
        return int(answer)
    return None


def _print_events(agent: FaceAgent, text: str, **kwargs: Any) -> None:
    from agent.render import render_event

    for event in agent.stream(text, **kwargs):
        for line in render_event(event):
            print(line, flush=True)


def _attach(agent: FaceAgent, subject: str, path: str) -> ImageInput:
    """Load and check an image now (not when the next message is sent): a bad one is refused at once."""
    import re

    from agent.sdk import ImageInput
    from agent.store.models import SUBJECT_ID_PATTERN
    from tools.errors import UserError

    spec = parse_image(f"{subject}={path}")
    if spec.subject is not None and not re.fullmatch(SUBJECT_ID_PATTERN, spec.subject):
        shown = repr(spec.subject) if len(spec.subject) <= 60 else repr(spec.subject[:57]) + "..."
        raise UserError(f"invalid subject {shown}: use letters, digits and . _ : @ - (or 'probe' for nobody claimed)")
    return ImageInput(source=agent.engine.load(spec.source), subject=spec.subject)


def _check_purpose(agent: FaceAgent, purpose: str) -> None:
    from agent.errors import UnknownPurpose

    if purpose not in agent.policy.purposes:
        raise UnknownPurpose(
            f"unknown purpose {purpose!r} (known: {', '.join(sorted(agent.policy.purposes))})", purpose=purpose
        )


def _fail(exc: FacegateError | OSError) -> None:
    """One stderr line for a failed message or command; the chat goes on."""
    from agent.cli.main import one_line, os_message
    from tools.errors import FacegateError

    if isinstance(exc, FacegateError):
        print(f"facegate: {exc.code}: {one_line(exc.message)}", file=sys.stderr, flush=True)
    elif isinstance(exc, OSError):
        print(f"facegate: os_error: {os_message(exc)}", file=sys.stderr, flush=True)


def chat_handler(args: argparse.Namespace) -> int:
    """The chat loop. Exit code: 0, or 1 if any message or command in it failed (a script can tell)."""
    from tools.errors import FacegateError

    settings = _settings(args)
    specs = [parse_image(s) for s in args.image]
    thread = args.thread or uuid.uuid4().hex[:12]
    present = attended()
    if present:
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401  (history and line editing for input())
    with _agent(settings, human_present=present) as agent:
        _check_purpose(agent, args.purpose)
        if args.thread and agent.thread_purpose(thread) not in (None, args.purpose):
            err(f"thread {thread} was started for purpose {agent.thread_purpose(thread)!r}")
            return 2
        pending = [_attach(agent, s.subject or "probe", str(s.source)) for s in specs]
        print(
            f"facegate chat: purpose {args.purpose}, thread {thread}, reasoner {agent.reasoner.name}. /help for help."
        )
        if not present:
            print(
                "facegate chat: input or output is not a terminal, so nobody can be asked for consent here: "
                "a request that needs consent is refused."
            )
        failed = False
        while True:
            try:
                line = input("you> ")
            except EOFError:
                print()
                break
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                cmd, _, rest = text.partition(" ")
                if cmd in ("/quit", "/exit"):
                    break
                if cmd == "/help":
                    print(HELP)
                elif cmd == "/image":
                    parts = rest.split(maxsplit=1)
                    if len(parts) != 2:
                        print("usage: /image SUBJECT PATH  (SUBJECT 'probe' for nobody claimed)")
                        failed = True
                        continue
                    try:
                        pending.append(_attach(agent, parts[0], parts[1]))
                    except (FacegateError, OSError) as exc:
                        _fail(exc)
                        failed = True
                        continue
                    print(f"  attached {parts[1]} as {parts[0]} (sent with your next message)")
                elif cmd == "/images":
                    for t in agent.transcript(thread):
                        for img in t.images:
                            print(f"  {img.handle}: {img.label} (sha256 {img.sha256[:12]})")
                elif cmd == "/audit":
                    _print_audit(agent, thread)
                else:
                    print(f"unknown command {cmd}; /help lists them")
                continue
            try:
                _print_events(agent, text, purpose=args.purpose, images=pending, thread_id=thread)
            except FacegateError as exc:
                _fail(exc)
                failed = True
                pending = _unsent(agent, thread, pending)
                if pending:
                    print(f"  {len(pending)} attached image(s) kept for your next message")
                continue
            pending = []
    return 1 if failed else 0


def _unsent(agent: FaceAgent, thread: str, pending: list[ImageInput]) -> list[ImageInput]:
    """The attached images a failed turn did not register in the thread (they are kept for the next message)."""
    try:
        sent = {img.sha256 for t in agent.transcript(thread) for img in t.images}
    except Exception:  # the thread cannot be read: keep them all; sending one twice keeps its handle
        return pending
    return [p for p in pending if getattr(p.source, "sha256", None) not in sent]


def _print_audit(agent: FaceAgent, thread: str) -> None:
    entries = agent.audit_entries(thread)
    if not entries:
        print("  no audit rows for this conversation yet")
    for e in entries:
        tool = e.summary.get("tool", "")
        print(f"  #{e.seq} {e.ts:%H:%M:%S} {e.kind:<9} {tool:<20} {e.outcome or '':<13} {e.rule_id or ''}")
    report = agent.store.audit.verify()
    print(
        f"  audit chain: {'verifies' if report.ok else 'BROKEN at #' + str(report.first_bad_seq)} ({report.rows} rows)"
    )


def ask_handler(args: argparse.Namespace) -> int:
    settings = _settings(args)
    images = [parse_image(s) for s in args.image]
    present = attended() and not args.json
    with _agent(settings, human_present=present) as agent:
        if args.json:
            reply = agent.ask(args.text, purpose=args.purpose, images=images, thread_id=args.thread)
            print_json(reply.model_dump(mode="json"))
        else:
            _print_events(agent, args.text, purpose=args.purpose, images=images, thread_id=args.thread)
    return 0


def demo_handler(args: argparse.Namespace) -> int:
    from agent.demo import run_demo

    settings = _settings(args)
    report = run_demo(
        settings,
        home=getattr(args, "home", None),
        photos=args.photos,
        out=lambda s: print(s, flush=True),
        keep=args.keep,
    )
    if args.json:
        print_json(report.model_dump(mode="json"))
    if not report.ok:
        print(f"facegate: demo_failed: {len(report.failures)} step check(s) failed; see [check] lines", file=sys.stderr)
    return 0 if report.ok else 1
