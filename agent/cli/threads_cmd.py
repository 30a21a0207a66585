"""``facegate threads``: the conversations on record, newest first (continue one with ``chat -c`` or ``--thread``)."""

from __future__ import annotations

import click

from agent.cli.common import json_option


def register(cli: click.Group) -> None:
    cli.add_command(threads)


@click.command()
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Only the N most recently active.")
@json_option
def threads(limit: int | None, as_json: bool) -> int:
    """List conversations: thread id, purpose, last activity, messages.

    Continue the newest with `facegate chat -c`, any other with `facegate chat --thread ID`."""
    from agent.cli.common import load_settings, print_json
    from agent.cli.output import print_table
    from agent.threads import list_threads

    found = list_threads(load_settings(), limit=limit)
    if as_json:
        print_json([t.model_dump(mode="json") for t in found])
        return 0
    rows = [(t.thread_id, t.purpose or "-", f"{t.last_activity:%Y-%m-%d %H:%M:%S}", t.turns,
             "paused" if t.awaiting_consent else "") for t in found]  # fmt: skip
    print_table(rows, headers=("thread", "purpose", "last activity (UTC)", "messages", "state"), colour_by=4,
                empty="no conversations yet")  # fmt: skip
    return 0
