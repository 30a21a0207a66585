"""``facegate`` command line: a thin layer over the SDK.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its parsers and
sets ``handler`` (``(args) -> int``). Command modules import nothing heavy at module level, so ``--help`` is fast.
Other packages (``evals``) plug in through the ``facegate.commands`` entry-point group, so ``agent`` never
imports them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

_BUILTIN = (
    "agent.cli.models_cmd",
    "agent.cli.consent_cmd",
    "agent.cli.chat_cmd",
    "agent.cli.capture_cmd",
)


def _plugins() -> list[Callable[[argparse._SubParsersAction], None]]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group="facegate.commands"):
        try:
            found.append(ep.load())
        except ImportError:  # an optional part that is not installed: its commands are simply absent
            continue
    return found


def build_parser() -> argparse.ArgumentParser:
    from agent.cli.common import OneLineParser

    parser = OneLineParser(
        prog="facegate",
        description="Consent-gated face verification and expression analysis, with a tamper-evident audit log.",
    )
    parser.add_argument("--home", type=Path, help="facegate home folder (default: $FACEGATE_HOME or ~/.facegate)")
    parser.add_argument("--version", action="version", version="facegate 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _BUILTIN:
        import_module(name).register(sub)
    for register in _plugins():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    from tools.errors import FacegateError

    try:
        return int(handler(args) or 0)
    except FacegateError as exc:
        print(f"facegate: {exc.code}: {one_line(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a home, database or output path the system refused: one line, not a traceback
        print(f"facegate: os_error: {os_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("facegate: interrupted", file=sys.stderr)
        return 130


def one_line(message: str) -> str:
    """The first line of a message; the number of further lines is said, not printed (one line per error)."""
    lines = [line for line in str(message).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    more = len(lines) - 1
    return f"{lines[0]} (+{more} more problem{'s' if more > 1 else ''})"


def os_message(exc: OSError) -> str:
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    what = exc.strerror or one_line(str(exc)) or type(exc).__name__
    return f"{what}: {where}" if where else what


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
