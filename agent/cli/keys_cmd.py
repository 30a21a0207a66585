"""``facegate keys add|list|revoke``: API keys for the LangGraph server and MCP over HTTP (logic: agent.apikeys)."""

from __future__ import annotations

import click

from agent.cli.common import actor_option, json_option

# Spelled out rather than imported (`facegate --help` must not load pydantic); tests/test_apikeys.py keeps these
# in step with agent.apikeys.ROLES.
ROLES = ("operator", "auditor")


def register(cli: click.Group) -> None:
    cli.add_command(keys)


@click.group()
def keys() -> None:
    """API keys for the server: operators run conversations, auditors read them."""


@keys.command()
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="operator: may run; auditor: may only read.")
@actor_option
@json_option
def add(name: str, role: str, actor: str | None, as_json: bool) -> int:
    """Make a key for NAME and print it once (it is stored only as a hash)."""
    from agent.apikeys import KeyRing
    from agent.cli.common import actor_of, opened, print_json

    with opened(create=True) as (settings, store):
        record, secret = KeyRing.of(settings).add(name, role, actor=actor_of(actor, settings), audit=store.writer)
    if as_json:
        print_json({"name": record.name, "role": record.role, "key": secret, "fingerprint": record.fingerprint})
        return 0
    click.echo(secret)
    click.echo(f"key {record.name!r} ({record.role}) made; it is shown only now: keep it somewhere safe", err=True)
    return 0


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked keys too.")
@json_option
def list_(include_revoked: bool, as_json: bool) -> int:
    """List keys: name, role, created, last used (never the keys)."""
    from agent.apikeys import KeyRing
    from agent.cli.common import load_settings, print_json
    from agent.cli.output import print_table

    found = KeyRing.of(load_settings()).entries(include_revoked=include_revoked)
    if as_json:
        print_json([k.model_dump(mode="json", exclude={"sha256"}) | {"fingerprint": k.fingerprint} for k in found])
        return 0

    def when(value: object) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"

    rows = [(k.name, k.role, when(k.created_at), when(k.last_used_at), "revoked" if k.revoked_at else "")
            for k in found]  # fmt: skip
    print_table(rows, headers=("name", "role", "created (UTC)", "last used (UTC)", "state"), empty="no API keys")
    return 0


@keys.command()
@click.argument("name")
@actor_option
@json_option
def revoke(name: str, actor: str | None, as_json: bool) -> int:
    """Revoke NAME's key: the server refuses it from its next request on."""
    from agent.apikeys import KeyRing
    from agent.cli.common import actor_of, opened, print_json

    with opened(create=True) as (settings, store):
        record = KeyRing.of(settings).revoke(name, actor=actor_of(actor, settings), audit=store.writer)
    if as_json:
        print_json({"name": record.name, "role": record.role, "revoked_at": record.revoked_at})
        return 0
    click.echo(f"revoked key {record.name!r} ({record.role})")
    return 0
