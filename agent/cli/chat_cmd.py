"""``facegate chat``, ``facegate ask`` and ``facegate demo``: thin layers over :class:`agent.sdk.FaceAgent`.

Nothing heavy is imported at module level (``facegate --help`` stays fast).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.common import err, load_settings, print_json

if TYPE_CHECKING:
    from agent.sdk import ConsentAnswer, ConsentRequest, FaceAgent, ImageInput
    from agent.settings import Settings

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


def _agent(settings: Settings, *, human_present: bool) -> FaceAgent:
    from agent.sdk import FaceAgent

    settings.home.mkdir(parents=True, exist_ok=True)
    return FaceAgent(settings, human_present=human_present, consent_handler=prompt_consent if human_present else None)


def prompt_consent(request: ConsentRequest) -> ConsentAnswer:
    """Ask the person at the terminal; the consent is recorded by the SDK from this answer, never by the model."""
    from agent.sdk import ConsentAnswer

    missing = "; ".join(f"{m['subject_id']}: {m['capability']} for {m['purpose']}" for m in request.missing)
    print(f"\nPolicy needs consent before {request.tool} can run: {missing}.")
    print(f"  ({request.decision.get('rule_id')}: {request.decision.get('reason')})")
    subjects = ", ".join(sorted({m["subject_id"] for m in request.missing}))
    yes = _input(f"Has {subjects} been told what will be done and agreed to it now? [y/N] ").strip().lower()
    if yes not in ("y", "yes"):
        return ConsentAnswer(granted=False)
    method = _input("How was consent given? [verbal, recorded by the operator] ").strip()
    term = _input("For how many days? [30] ").strip()
    return ConsentAnswer(
        granted=True,
        evidence_method=method or "verbal, recorded by the operator during the session",
        term_days=int(term) if term.isdigit() and int(term) > 0 else 30,
    )


def _input(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


def _print_events(agent: FaceAgent, text: str, **kwargs: Any) -> None:
    from agent.render import render_event

    for event in agent.stream(text, **kwargs):
        for line in render_event(event):
            print(line, flush=True)


def chat_handler(args: argparse.Namespace) -> int:
    from tools.errors import FacegateError

    settings = _settings(args)
    pending = [parse_image(s) for s in args.image]
    thread = args.thread or uuid.uuid4().hex[:12]
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401  (history and line editing for input())
    with _agent(settings, human_present=True) as agent:
        if args.thread and agent.thread_purpose(thread) not in (None, args.purpose):
            err(f"thread {thread} was started for purpose {agent.thread_purpose(thread)!r}")
            return 2
        print(
            f"facegate chat: purpose {args.purpose}, thread {thread}, reasoner {agent.reasoner.name}. /help for help."
        )
        while True:
            try:
                line = input("you> ")
            except EOFError:
                print()
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                cmd, _, rest = text.partition(" ")
                if cmd in ("/quit", "/exit"):
                    return 0
                if cmd == "/help":
                    print(HELP)
                elif cmd == "/image":
                    parts = rest.split(maxsplit=1)
                    if len(parts) != 2:
                        print("usage: /image SUBJECT PATH  (SUBJECT 'probe' for nobody claimed)")
                        continue
                    pending.append(parse_image(f"{parts[0]}={parts[1]}"))
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
                print(f"facegate: {exc.code}: {exc.message}", file=sys.stderr, flush=True)
            pending = []


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
    present = sys.stdin.isatty() and not args.json
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
        settings, home=getattr(args, "home", None), photos=args.photos, out=lambda s: print(s, flush=True)
    )
    if args.json:
        print_json(report.model_dump(mode="json"))
    return 0 if report.audit_ok else 1
