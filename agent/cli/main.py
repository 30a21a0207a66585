"""``facegate`` command line: a thin layer over the SDK, built with Click.

One module per command group, each exposing ``register(cli)`` that adds its Click commands. Command modules
import nothing heavy at module level, so ``--help`` is fast. Other packages (``evals``) plug in through the
``facegate.commands`` entry-point group (a ``register(cli)`` function too), so ``agent`` never imports them.
Global options (``--home``) are added to every command once the tree is built, so they work before or after the
subcommand.

:func:`main` is the error boundary: every known failure is one line on stderr
(``facegate: <code>: <message>``) and a stable exit code; the exit-code table is in the README.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

import click

from agent.cli.common import add_global_options
from tools.errors import FacegateError

_BUILTIN = (
    "agent.cli.models_cmd",
    "agent.cli.consent_cmd",
    "agent.cli.enroll_cmd",
    "agent.cli.subject_cmd",
    "agent.cli.retention_cmd",
    "agent.cli.audit_cmd",
    "agent.cli.policy_cmd",
    "agent.cli.ask_cmd",
    "agent.cli.chat_cmd",
    "agent.cli.threads_cmd",
    "agent.cli.demo_cmd",
    "agent.cli.capture_cmd",
    "agent.cli.keys_cmd",
    "agent.cli.mcp_cmd",
)

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
COMPLETE_VAR = "_FACEGATE_COMPLETE"  # eval "$(_FACEGATE_COMPLETE=bash_source facegate)" for tab completion


class FacegateGroup(click.Group):
    """The root group: ``facegate`` run as a program (or by Click's ``CliRunner``) goes through :func:`run`, the
    error boundary, so tests drive exactly what users run."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        sys.exit(run(self, list(sys.argv[1:] if args is None else args)))


@click.group(
    name="facegate",
    cls=FacegateGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
@click.version_option(package_name="facegate", prog_name="facegate", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Consent-gated face verification and expression analysis, with a tamper-evident audit log."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _plugins() -> list[Callable[[click.Group], None]]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group="facegate.commands"):
        try:
            found.append(ep.load())
        except ImportError:  # an optional part that is not installed: its commands are simply absent
            continue
    return found


def build_cli() -> click.Group:
    """Register the built-in command groups and the plug-ins, then the global options (idempotent)."""
    if not cli.commands:
        for name in _BUILTIN:
            import_module(name).register(cli)
        for register in _plugins():
            register(cli)
        add_global_options(cli)
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    return run(build_cli(), list(sys.argv[1:] if argv is None else argv))


def run(command: click.Command, args: list[str]) -> int:
    """The error boundary: one stderr line per known failure, a stable exit code, never a traceback for them."""
    from click.exceptions import Exit, NoArgsIsHelpError

    if os.environ.get(COMPLETE_VAR):  # the shell asks for completions: Click answers and exits
        click.Command.main(command, args, prog_name="facegate", complete_var=COMPLETE_VAR)
    try:
        try:
            # make_context + invoke rather than Click's main(), which turns a closed pipe into exit 1 on its own
            with command.make_context("facegate", args) as ctx:
                code = command.invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, inside the boundary, not at interpreter exit
            return int(code or 0)
        except Exit as exc:  # --help, --version
            sys.stdout.flush()
            return exc.exit_code
        except NoArgsIsHelpError as exc:  # a group without its subcommand: its help, and a usage exit code
            click.echo(exc.ctx.get_help(), err=True)
            return EXIT_USAGE
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"facegate: usage_error: {_sentence(exc.format_message())}{where}", err=True)
            return EXIT_USAGE
        except click.ClickException as exc:  # click.FileError and friends
            click.echo(f"facegate: user_error: {_sentence(exc.format_message())}", err=True)
            return exc.exit_code
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return _closed_pipe()
        click.echo(f"facegate: os_error: {os_message(exc)}", err=True)
        return 1
    except (click.Abort, KeyboardInterrupt, EOFError):
        click.echo("facegate: interrupted", err=True)
        return EXIT_INTERRUPTED
    except FacegateError as exc:
        click.echo(f"facegate: {exc.code}: {one_line(exc.message)}", err=True)
        return exc.exit_code


def _closed_pipe() -> int:
    """The reader went away (``facegate policy rules | head -1``): stop quietly with success, as Unix tools do.

    stdout is pointed at /dev/null so the interpreter's final flush does not report the broken pipe again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture): nothing will flush into a pipe
        pass
    finally:
        os.close(devnull)
    return 0


def _sentence(message: str) -> str:
    """Click's "Missing option '--x'. Choose from:\n\ta,\n\tb." -> "missing option '--x'. Choose from: a, b", on
    one line like facegate's other messages."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


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
