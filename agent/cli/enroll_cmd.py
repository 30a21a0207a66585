"""``facegate enroll``: store a subject's face template, with enrollment consent for the purpose."""

from __future__ import annotations

from pathlib import Path

import click

from agent.cli.common import actor_option, json_option


def register(cli: click.Group) -> None:
    cli.add_command(enroll)


@click.command()
@click.argument("subject")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--purpose", required=True, help="The purpose the template serves (from the catalogue).")
@click.option("--session", help="Session id recorded in the audit log.")
@actor_option
@json_option
def enroll(subject: str, image: Path, purpose: str, session: str | None, actor: str | None, as_json: bool) -> int:
    """Store a subject's face template.

    Needs an active enrollment consent for the purpose; the image must hold exactly one face."""
    from agent.cli.common import actor_of, load_settings, opened, policy_of, print_json
    from agent.enrollment import enroll as enroll_subject
    from tools.engine import FaceEngine
    from tools.provenance import ProvenanceChecker, provenance_statement
    from tools.weights import ensure_ready

    # Before the store is touched: a model that cannot run must not leave an audited decision for nothing.
    settings = load_settings()
    ensure_ready(settings)
    with opened(settings, create=True) as (_, store):
        result = enroll_subject(
            store,
            FaceEngine(settings),
            policy_of(settings),
            subject_id=subject,
            image=str(image),
            purpose=purpose,
            actor=actor_of(actor, settings),
            session_id=session,
            provenance=ProvenanceChecker(settings),
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        click.echo(
            f"enrolled {result.subject_id} for {result.purpose}: template {result.template_id} "
            f"({result.model}/{result.detector}), kept until {result.expires_at.isoformat()}"
        )
        click.echo(f"photo provenance: {provenance_statement(result.provenance)}")
    return 0
