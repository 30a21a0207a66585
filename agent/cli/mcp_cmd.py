"""``facegate mcp serve``: facegate's policy-gated face tools for an MCP host, over stdio or loopback HTTP.

The purpose and the operator are fixed here, at launch; the host can neither choose nor change them. The
command refuses to start without ``allowed_image_dirs`` (``--image-dir`` or ``FACEGATE_ALLOWED_IMAGE_DIRS``):
a host's model names the paths, and only folders the operator chose may be read. stdout carries protocol
messages only: logs go to stderr, and the SDK points fd 1 at stderr while it serves.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from agent.cli.common import actor_option

if TYPE_CHECKING:
    from agent.settings import Settings


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
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio (the host starts the server) or streamable HTTP on loopback (API key required on every request).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: a loopback address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="HTTP: 0 picks one.")
@actor_option
def serve(purpose: str, image_dirs: tuple[Path, ...], transport: str, host: str, port: int, actor: str | None) -> int:
    """Serve verify_identity, verify_faces, analyze_expression and consent_status over stdio or HTTP.

    Every call goes through facegate's policy and audit log, as in the agent. Consent is never recorded through
    MCP: record it with `facegate consent grant`. Over HTTP every request needs an API key (`facegate keys add`);
    only an operator key may call tools, and the audit rows name the key, not --actor. HTTP prints one line on
    stdout, the URL, once it listens."""
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
    if transport == "http":
        return _serve_http(settings, purpose, host, port, actor)
    server = _load_server()
    from agent.mcp.service import open_gated_tools

    with open_gated_tools(settings, purpose=purpose, actor=actor_of(actor, settings)) as tools:
        anyio.run(functools.partial(server.serve_stdio, tools, tools.session(), version=_version()))
    return 0


def _serve_http(settings: Settings, purpose: str, host: str, port: int, actor: str | None) -> int:
    """Loopback checked and the port bound before the engine is readied: a refusal costs nothing. stdout gets
    the URL line and nothing else (anything else printed goes to stderr)."""
    import contextlib
    import functools
    import sys

    import anyio

    from agent.cli.common import actor_of
    from agent.mcp.service import open_gated_tools

    http = _load_server("http")
    sock = http.bind(host, port)
    stdout = sys.stdout

    def announce(url: str) -> None:
        stdout.write(url + "\n")
        stdout.flush()

    try:
        with (
            open_gated_tools(settings, purpose=purpose, actor=actor_of(actor, settings)) as tools,
            contextlib.redirect_stdout(sys.stderr),
        ):
            serve = functools.partial(http.serve_http, tools, settings, sock, version=_version())
            anyio.run(functools.partial(serve, on_listening=announce))
    finally:
        sock.close()
    return 0


def _load_server(name: str = "server") -> ModuleType:
    """An MCP server module (``server``, or ``http`` for streamable HTTP), or a one-line hint when the optional
    extra is missing."""
    import importlib

    from agent.errors import ConfigError

    try:
        return importlib.import_module(f"agent.mcp.{name}")
    except ImportError as exc:
        raise ConfigError(
            f"the MCP server needs the mcp extra ({exc.name} is missing): pip install 'facegate[mcp]'"
        ) from exc


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("facegate")
    except PackageNotFoundError:
        return ""
