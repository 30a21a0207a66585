"""Pieces every CLI command uses. Kept import-light: ``facegate --help`` must stay fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from pydantic import ValidationError

    from agent.settings import Settings
    from tools.errors import ConfigError


def load_settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Build the one settings object at the edge: explicit flags win over the environment."""
    from pydantic import ValidationError

    from agent.settings import Settings

    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if getattr(args, "home", None):
        explicit["home"] = args.home
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


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def err(message: str) -> None:
    """One diagnostic line on stderr."""
    print(f"facegate: {message}", file=sys.stderr)


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit 2 (argparse would print the whole usage first).

    Sub-parsers created from a parser of this class are of this class too.
    """

    def error(self, message: str) -> NoReturn:
        print(f"facegate: usage_error: {self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)
