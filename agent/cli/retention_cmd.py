"""``facegate retention sweep``: delete what has outlived its retention period."""

from __future__ import annotations

import click

from agent.cli.common import actor_option, json_option


def register(cli: click.Group) -> None:
    cli.add_command(retention)


@click.group()
def retention() -> None:
    """Delete what has outlived its retention period."""


@retention.command()
@actor_option
@json_option
def sweep(actor: str | None, as_json: bool) -> int:
    """Delete templates past retention or no longer consented to."""
    from agent.cli.common import actor_of, opened, print_json

    with opened() as (settings, store):
        report = store.sweep_retention(actor=actor_of(actor, settings))
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        click.echo(f"deleted {report.templates_deleted} template(s) of {len(report.subjects)} subject(s)")
    return 0
