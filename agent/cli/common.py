"""Pieces every CLI command uses: global options, settings, the store, JSON output, dates.

Kept import-light (click and the standard library only at module level): ``facegate --help`` must stay fast.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pydantic import ValidationError

    from agent.policy import Policy
    from agent.settings import Settings
    from agent.store import Store
    from tools.errors import ConfigError

_HOME = "facegate.home"  # key in ``ctx.meta``, which every nested context shares

# --- global options: accepted before and after the subcommand --------------------------------------------


def _remember_home(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    # Parsed root first, subcommand last: the option nearest the command wins (`facegate --home A x --home B`).
    if value is not None:
        ctx.meta[_HOME] = value


def _home_option() -> click.Option:
    return click.Option(
        ["--home"],
        type=click.Path(path_type=Path),
        expose_value=False,
        callback=_remember_home,
        help="facegate home folder (default: $FACEGATE_HOME or ~/.facegate).",
    )


def add_global_options(command: click.Command) -> None:
    """Give ``command`` and every command below it the global options (``--home``), so
    ``facegate --home DIR consent list`` and ``facegate consent list --home DIR`` mean the same.

    Run once over the whole tree after every command (plug-ins included) is registered."""
    if not any(p.name == "home" for p in command.params):
        command.params.append(_home_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)


def home_from_context() -> Path | None:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_HOME) if ctx is not None else None


# --- settings and the store ------------------------------------------------------------------------------


def load_settings(args: Any = None, **overrides: Any) -> Settings:
    """Build the one settings object at the edge: explicit flags win over the environment.

    ``args`` (optional) is an ``(args)``-style handler's namespace; its ``home`` wins over the context's.
    """
    from pydantic import ValidationError

    from agent.settings import Settings

    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    home = getattr(args, "home", None) or home_from_context()
    if home:
        explicit["home"] = home
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        raise _settings_error(exc, explicit) from exc


def _settings_error(exc: ValidationError, explicit: dict[str, Any]) -> ConfigError:
    """pydantic's multi-line report -> a ConfigError with one line per bad setting, naming where it came from
    (a flag or its ``FACEGATE_`` variable). Input values are not echoed: one could be an API key."""
    from tools.errors import ConfigError

    problems: list[str] = []
    fields: list[str] = []
    for e in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in e.get("loc", ())) or "settings"
        top = field.split(".")[0]
        env = top if top.isupper() else f"FACEGATE_{top.upper()}"  # an alias (GEMINI_API_KEY) is already a name
        source = "from the command line" if top in explicit else env
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"invalid setting {field} ({source}): {message}")
        fields.append(field)
    return ConfigError("\n".join(problems) or "invalid settings", fields=fields)


@contextmanager
def opened(settings: Settings | None = None, *, create: bool = False) -> Iterator[tuple[Settings, Store]]:
    """Settings and the store. Only commands that record something new (``create``) may create the database:
    anything else on a missing one is "no facegate database at ... (wrong --home?)", not an empty, intact log."""
    from agent.store import Store

    settings = settings or load_settings()
    store = Store.from_settings(settings, create=create)
    try:
        yield settings, store
    finally:
        store.close()


def policy_of(settings: Settings) -> Policy:
    from agent.policy import load_policy

    return load_policy(settings.policy_file)


def actor_of(given: str | None, settings: Settings) -> str:
    return given or settings.actor


# --- shared options --------------------------------------------------------------------------------------

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
actor_option = click.option("--actor", help="Who is acting (recorded in the audit log; default: settings.actor).")


def namespace_handler(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Adapt an ``(args) -> int`` handler to a Click callback: the options arrive as ``args.<name>``, plus
    ``args.home``. For plug-ins whose handlers read an argparse-style namespace (``evals``)."""

    @functools.wraps(handler)
    def callback(**kwargs: Any) -> int:
        return handler(argparse.Namespace(home=home_from_context(), **kwargs))

    return callback


# --- output ----------------------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def err(message: str) -> None:
    """One diagnostic line on stderr."""
    print(f"facegate: {message}", file=sys.stderr, flush=True)


def parse_when(text: str, *, name: str) -> datetime:
    """A UTC date (midnight) or an ISO timestamp (naive means UTC); UserError when unreadable."""
    from datetime import UTC

    from tools.errors import UserError

    try:
        value = datetime.fromisoformat(text.strip())
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        value.astimezone(UTC)  # 9999-12-31T23:00-05:00 is past the last representable UTC time
    except ValueError:
        raise UserError(f"{name}: cannot read {text!r} as a date (YYYY-MM-DD) or ISO time") from None
    except OverflowError:
        raise UserError(f"{name}: {text!r} is out of range (past year 9999 in UTC)") from None
    return value
