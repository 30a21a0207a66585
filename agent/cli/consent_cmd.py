"""``facegate consent grant|revoke|list|show``: consent is recorded by people, through these commands."""

from __future__ import annotations

from typing import Any

import click

from agent.cli.common import actor_option, json_option

# Spelled out rather than imported: the enum and the bound live in pydantic modules that `facegate --help`
# must not pay for. tests/test_consent_cli.py keeps these in step with agent.policy.capabilities and agent.store.models.
CAPABILITIES = ("face_verification", "expression_analysis", "enrollment", "llm_image_sharing")
MAX_DAYS = 36_500
_DAYS = click.IntRange(1, MAX_DAYS)


def register(cli: click.Group) -> None:
    cli.add_command(consent)


@click.group()
def consent() -> None:
    """Record, withdraw and inspect consent."""


@consent.command()
@click.argument("subject")
@click.option("--capability", "capabilities", multiple=True, required=True, type=click.Choice(CAPABILITIES),
              help="What the person agreed to (repeatable).")  # fmt: skip
@click.option("--purpose", "purposes", multiple=True, required=True, help="Purpose id (repeatable).")
@click.option("--notice", help="The notice shown to the person (text or version).")
@click.option("--evidence-method", help="How consent was given: signed_form, click_through, ...")
@click.option("--recorded-by", help="Who recorded the consent.")
@click.option("--evidence-reference", help="Where the evidence is kept (form number, URL, ...).")
@click.option("--expires", help="End of the term: a UTC date (YYYY-MM-DD, ends at 00:00) or ISO time.")
@click.option("--term-days", type=_DAYS, help=f"Term in days from now (1..{MAX_DAYS}); or --expires.")
@click.option("--retention-days", type=_DAYS, help="Keep templates at most this long (default: the purpose's).")
@actor_option
@json_option
def grant(
    subject: str,
    capabilities: tuple[str, ...],
    purposes: tuple[str, ...],
    notice: str | None,
    evidence_method: str | None,
    recorded_by: str | None,
    evidence_reference: str | None,
    expires: str | None,
    term_days: int | None,
    retention_days: int | None,
    actor: str | None,
    as_json: bool,
) -> int:
    """Record a consent (notice, purpose, term and evidence required)."""
    from agent.cli.common import actor_of, opened, parse_when, policy_of, print_json
    from agent.consent import describe_consent, grant_consent

    if expires is not None and term_days is not None:
        raise click.UsageError("give --expires or --term-days, not both")
    until = parse_when(expires, name="--expires") if expires else None
    with opened(create=True) as (settings, store):
        record = grant_consent(
            store,
            policy_of(settings),
            subject_id=subject,
            capabilities=list(capabilities),
            purposes=list(purposes),
            notice=notice,
            evidence_method=evidence_method,
            recorded_by=recorded_by,
            evidence_reference=evidence_reference,
            expires_at=until,
            term_days=term_days,
            retention_days=retention_days,
            actor=actor_of(actor, settings),
        )
        view = describe_consent(record, record.granted_at)
    if as_json:
        print_json(view)
    else:
        click.echo(f"recorded consent {record.id} for {record.subject_id} (expires {view['expires_at']})")
    return 0


@consent.command()
@click.argument("subject")
@click.option("--consent-id", help="Withdraw only this record.")
@click.option("--capability", type=click.Choice(CAPABILITIES), help="Withdraw only this capability.")
@actor_option
@json_option
def revoke(subject: str, consent_id: str | None, capability: str | None, actor: str | None, as_json: bool) -> int:
    """Withdraw consent (at once; templates no longer covered are deleted)."""
    from agent.cli.common import actor_of, opened, print_json
    from agent.consent import describe_consents, revoke_consent

    with opened() as (settings, store):
        revoked = revoke_consent(
            store, subject_id=subject, actor=actor_of(actor, settings), consent_id=consent_id, capability=capability
        )
        views = describe_consents(revoked, revoked[0].revoked_at) if revoked else []  # type: ignore[arg-type]
        last = store.audit.query(subject=subject, kind="consent_revoke", limit=1)
    deleted = last[0].summary.get("templates_deleted", 0) if last else 0
    if as_json:
        print_json({"revoked": views, "templates_deleted": deleted})
        return 0
    for v in views:
        click.echo(f"revoked {v['id']} ({','.join(v['capabilities'])} for {','.join(v['purposes'])})")
    if deleted:
        click.echo(f"deleted {deleted} face template(s)")
    return 0


@consent.command("list")
@click.argument("subject", required=False)
@click.option("--active", is_flag=True, help="Only records active now.")
@json_option
def list_(subject: str | None, active: bool, as_json: bool) -> int:
    """List consent records (of one subject, or of everyone)."""
    from agent.cli.common import opened, print_json
    from agent.cli.output import print_table
    from agent.consent import describe_consents
    from agent.store.db import utcnow

    now = utcnow()
    with opened() as (_settings, store):
        if subject:
            store.require_subject(subject)
            subjects = [subject]
        else:
            subjects = [s.id for s in store.list_subjects()]
        views = describe_consents(store.consents_for_many(subjects), now)
    if active:
        views = [v for v in views if v["status"] == "active"]
    if as_json:
        print_json(views)
        return 0
    print_table(
        [_consent_row(v) for v in views],
        headers=("id", "subject", "status", "capabilities", "purposes", "expires"),
        colour_by=2,
        empty="no consent records",
    )
    return 0


def _consent_row(v: dict[str, Any]) -> tuple[str, ...]:
    return (
        v["id"],
        v["subject_id"],
        v["status"],
        ",".join(v["capabilities"]),
        ",".join(v["purposes"]),
        str(v["expires_at"] or "-"),
    )


@consent.command()
@click.argument("consent_id")
@json_option
def show(consent_id: str, as_json: bool) -> int:
    """Show one consent record."""
    from agent.cli.common import opened, print_json
    from agent.cli.output import print_table
    from agent.consent import describe_consent
    from agent.store.db import utcnow

    with opened() as (_settings, store):
        view = describe_consent(store.get_consent(consent_id), utcnow())
    if as_json:
        print_json(view)
    else:
        print_table([(key, value) for key, value in view.items()], headers=("field", "value"))
    return 0
