"""``facegate capture nonce``: a single-use liveness nonce for a capture app (the logic is agent.capture's)."""

from __future__ import annotations

import click

from agent.cli.common import json_option


def register(cli: click.Group) -> None:
    cli.add_command(capture)


@click.group()
def capture() -> None:
    """Liveness nonces for signing capture apps (C2PA)."""


@capture.command()
@click.option("--purpose", required=True, help="The purpose the capture is for (a catalogue purpose).")
@click.option("--subject", help="Bind the nonce to the person the capture is presented for.")
@click.option(
    "--ttl", type=click.IntRange(1, 86_400), help="Seconds the nonce stays usable, 1..86400 (default: the setting)."
)
@click.option("--actor", help="Who is issuing (recorded in the audit log; default: the settings' actor).")
@json_option
def nonce(purpose: str, subject: str | None, ttl: int | None, actor: str | None, as_json: bool) -> int:
    """Issue a single-use nonce for the capture app's org.facegate.liveness assertion.

    The capture app signs it into the image's C2PA manifest inside an org.facegate.liveness assertion; a purpose
    that requires liveness accepts the image once, while the nonce is fresh."""
    import json

    from agent.capture import issue_nonce
    from agent.cli.common import load_settings, print_json
    from agent.policy import load_policy
    from agent.store import Store

    settings = load_settings()
    with Store.from_settings(settings) as store:
        issued = issue_nonce(
            store,
            load_policy(settings.policy_file),
            purpose=purpose,
            subject_id=subject,
            actor=actor or settings.actor,
            ttl_seconds=ttl if ttl is not None else settings.capture_nonce_ttl_s,
        )
    if as_json:
        print_json(issued.model_dump(mode="json") | {"assertion": issued.assertion})
        return 0
    click.echo(issued.nonce)
    click.echo(
        f"purpose {issued.purpose}, subject {issued.subject_id or '(any)'}, expires {issued.expires_at.isoformat()}"
    )
    click.echo(f"sign into the capture's C2PA manifest: {json.dumps(issued.assertion)}")
    return 0
