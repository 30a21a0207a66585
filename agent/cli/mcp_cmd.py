"""``facegate mcp serve``: facegate's policy-gated face tools for an MCP host, over stdio.

The purpose and the operator are fixed here, at launch; the host can neither choose nor change them. The
command refuses to start without ``allowed_image_dirs`` (``--image-dir`` or ``FACEGATE_ALLOWED_IMAGE_DIRS``):
a host's model names the paths, and only folders the operator chose may be read. stdout carries protocol
messages only: logs go to stderr, and the SDK points fd 1 at stderr while it serves.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import click

from agent.cli.common import actor_option


def register(cli: click.Group) -> None:
    cli.add_command(mcp)


@click.group()
def mcp() -> None:
    """Serve facegate's face tools to MCP hosts (Claude Desktop, IDE agents, other agents)."""


@mcp.command()
@click.option("--purpose", required=True, help="The purpose every call serves (a catalogue purpose), fixed at launch.")
@click.option(
    "--image-dir",
    "image_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder image paths may lie in (repeatable; default: $FACEGATE_ALLOWED_IMAGE_DIRS). Required.",
)
@actor_option
def serve(purpose: str, image_dirs: tuple[Path, ...], actor: str | None) -> int:
    """Serve verify_identity, verify_faces, analyze_expression and consent_status over stdio.

    Every call goes through facegate's policy and audit log, as in the agent. Consent is never recorded through
    MCP: record it with `facegate consent grant`."""
    import functools

    import anyio

    from agent.cli.common import actor_of, load_settings
    from agent.errors import ConfigError
    from agent.logging import configure_logging

    overrides = {"allowed_image_dirs": list(image_dirs)} if image_dirs else {}
    settings = load_settings(**overrides)
    if not settings.allowed_image_dirs:
        raise ConfigError(
            "mcp serve needs the folders images may be read from: pass --image-dir DIR (repeatable) or set "
            "FACEGATE_ALLOWED_IMAGE_DIRS='[\"DIR\"]'"
        )
    configure_logging(settings.log_level, settings.log_json)  # structlog writes to stderr
    server = _load_server()
    from agent.mcp.service import open_gated_tools

    with open_gated_tools(settings, purpose=purpose, actor=actor_of(actor, settings)) as tools:
        anyio.run(functools.partial(server.serve_stdio, tools, tools.session(), version=_version()))
    return 0


def _load_server() -> ModuleType:
    """The MCP server module, or a one-line hint when the optional extra is missing."""
    from agent.errors import ConfigError

    try:
        from agent.mcp import server
    except ImportError as exc:
        raise ConfigError(
            f"the MCP server needs the mcp extra ({exc.name} is missing): pip install 'facegate[mcp]'"
        ) from exc
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("facegate")
    except PackageNotFoundError:
        return ""
