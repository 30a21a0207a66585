"""Pieces every CLI command uses. Kept import-light: ``facegate --help`` must stay fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

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
