"""``facegate demo``: the scripted, self-explaining scenario on a fresh home."""

from __future__ import annotations

from pathlib import Path

import click

from agent.cli.common import json_option
from agent.cli.session import reasoner_option


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--photos", type=click.Path(path_type=Path), help="Cache folder for the sample photos.")
@reasoner_option
@click.option("--keep", is_flag=True, help="Keep the temporary home (removed at the end unless --keep or --home).")
@json_option
def demo(photos: Path | None, reasoner: str | None, keep: bool, as_json: bool) -> int:
    """Run the scripted, self-explaining scenario on a fresh home (checks every step; exit 1 if one failed)."""
    from agent.cli.common import err, home_from_context, print_json
    from agent.cli.session import settings_for
    from agent.demo import run_demo

    report = run_demo(
        settings_for(reasoner),
        home=home_from_context(),
        photos=photos,
        out=lambda s: click.echo(s),
        keep=keep,
    )
    if as_json:
        print_json(report.model_dump(mode="json"))
    if not report.ok:
        err(f"demo_failed: {len(report.failures)} step check(s) failed; see [check] lines")
    return 0 if report.ok else 1
