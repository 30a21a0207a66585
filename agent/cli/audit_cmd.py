"""``facegate audit verify|show|head``: the tamper-evident audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import click

from agent.cli.common import json_option

if TYPE_CHECKING:
    from agent.store.models import AuditKind

# Spelled out rather than imported (agent.store.models is pydantic, too heavy for `facegate --help`);
# tests/test_consent_cli.py keeps it in step with agent.store.models.AuditKind.
AUDIT_KINDS = (
    "decision",
    "tool_run",
    "consent_grant",
    "consent_revoke",
    "enrollment",
    "erasure",
    "retention_sweep",
    "eval_run",
    "session",
    "subject_export",
    "capture_nonce",
    "api_key",
)


def register(cli: click.Group) -> None:
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command()
@click.option("--expect-head", help="A head hash anchored earlier; the chain must still contain it.")
@json_option
def verify(expect_head: str | None, as_json: bool) -> int:
    """Check the hash chain; exit 0 when intact, 8 naming the first bad row."""
    from agent.cli.common import err, opened, print_json
    from agent.errors import AuditIntegrityError

    with opened() as (_settings, store):
        report = store.audit.verify(expect_head=expect_head)
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        click.echo(f"audit log intact: {report.rows} rows, head {report.head_hash} ({report.elapsed_ms:.0f} ms)")
    if report.ok:
        return 0
    if not as_json:
        where = f" at row {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        err(f"{AuditIntegrityError.code}: audit log damaged{where}: {report.problem}")
    return AuditIntegrityError.exit_code


@audit.command()
@click.option("--subject", help="Rows naming this subject.")
@click.option("--session", help="Rows of this session (a chat's thread id).")
@click.option("--since", help="UTC date or ISO time.")
@click.option("--until", help="UTC date or ISO time.")
@click.option("--kind", type=click.Choice(AUDIT_KINDS))
@click.option("--limit", type=click.IntRange(min=1), help="The most recent N rows.")
@json_option
def show(
    subject: str | None,
    session: str | None,
    since: str | None,
    until: str | None,
    kind: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Show audit rows."""
    from agent.cli.common import opened, parse_when, print_json
    from agent.cli.output import print_table

    start = parse_when(since, name="--since") if since else None
    end = parse_when(until, name="--until") if until else None
    with opened() as (_settings, store):
        entries = store.audit.query(
            subject=subject, session=session, since=start, until=end, kind=cast("AuditKind | None", kind), limit=limit
        )
    if as_json:
        print_json([e.model_dump(mode="json") for e in entries])
        return 0
    rows = []
    for e in entries:
        context = [f"{k}={v}" for k, v in (("purpose", e.purpose), ("capability", e.capability),
                                           ("session", e.session_id)) if v]  # fmt: skip
        rows.append((e.seq, e.ts.isoformat(), e.kind, e.actor, ",".join(e.subjects) or "-", e.outcome or "",
                     e.rule_id or "", " ".join(context)))  # fmt: skip
    print_table(
        rows,
        headers=("#", "time", "kind", "actor", "subjects", "outcome", "rule", "context"),
        colour_by=5,
        empty="no audit rows",
    )
    return 0


@audit.command()
@json_option
def head(as_json: bool) -> int:
    """Print the head hash (anchor it somewhere outside this machine)."""
    from agent.cli.common import opened, print_json

    with opened() as (_settings, store):
        count, head_hash = store.audit.head()
    if as_json:
        print_json({"rows": count, "head_hash": head_hash})
    else:
        click.echo(head_hash)
    return 0
