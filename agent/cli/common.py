"""Pieces every CLI command uses. Kept import-light: ``facegate --help`` must stay fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from agent.settings import Settings


def load_settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Build the one settings object at the edge: explicit flags win over the environment."""
    from agent.settings import Settings

    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if getattr(args, "home", None):
        explicit["home"] = args.home
    return Settings(**explicit)


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
