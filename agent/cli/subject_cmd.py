"""``facegate subject list|export|erase``: the rights of the people facegate holds data about."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agent.cli.common import actor_option, json_option


def register(cli: click.Group) -> None:
    cli.add_command(subject)


@click.group()
def subject() -> None:
    """Subject rights: list, export and erase."""


@subject.command("list")
@json_option
def list_(as_json: bool) -> int:
    """List subjects."""
    from agent.cli.common import opened, print_json
    from agent.cli.output import print_table

    with opened() as (_settings, store):
        subjects = store.list_subjects()
    if as_json:
        print_json([s.model_dump(mode="json") for s in subjects])
        return 0
    rows = []
    for s in subjects:
        if s.erased_at is None:
            status = "active"
        elif s.erased:
            status = f"erased {s.erased_at.isoformat()}"
        else:  # came back after an erasure: say so
            back = s.reregistered_at.isoformat() if s.reregistered_at else "?"
            status = f"active (erased {s.erased_at.isoformat()}, registered again {back})"
        rows.append((s.id, status))
    print_table(rows, headers=("subject", "status"), colour_by=1, empty="no subjects")
    return 0


@subject.command()
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--include-templates", is_flag=True, help="Include the template vectors.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@actor_option
def export(subject_id: str, include_templates: bool, output: Path | None, actor: str | None) -> int:
    """Everything held about a subject, as JSON."""
    import json

    from agent.cli.common import actor_of, opened, print_json
    from agent.subjects import export_subject

    with opened() as (settings, store):
        data = export_subject(store, subject_id, actor=actor_of(actor, settings), include_templates=include_templates)
    if output:
        output.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        click.echo(f"wrote {output}")
    else:
        print_json(data)
    return 0


@subject.command()
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not at a terminal).")
@actor_option
@json_option
def erase(subject_id: str, yes: bool, actor: str | None, as_json: bool) -> int:
    """Delete templates, conversations and cached data, withdraw consent, keep a tombstone.

    Asks for confirmation unless --yes; without a terminal to ask at, --yes is required."""
    from agent.cli.common import actor_of, err, opened, print_json
    from agent.cli.line_editor import forget_in_history
    from agent.cli.output import is_terminal
    from agent.subjects import erase_subject_everywhere
    from tools.errors import UserError

    with opened() as (settings, store):
        store.require_subject(subject_id)  # an unknown subject is not_found, asked or not
        if not yes:
            if not is_terminal(sys.stdin):
                raise UserError(
                    f"subject erase deletes {subject_id}'s data and cannot be undone: "
                    "pass --yes to erase without a terminal to confirm at"
                )
            question = (
                f"Erase {subject_id}? Templates, conversations and cached data are deleted and consents "
                "withdrawn; a tombstone and the audit rows are kept. This cannot be undone."
            )
            if not click.confirm(question, default=False, err=True):
                err(f"not erased: {subject_id}")
                return 1
        result = erase_subject_everywhere(store, settings, subject_id, actor=actor_of(actor, settings))
    result["chat_history_entries_deleted"] = forget_in_history(settings.home, subject_id)
    if as_json:
        print_json(result)
    else:
        click.echo(
            f"erased {subject_id}: {result['templates_deleted']} template(s) deleted, "
            f"{result['consents_revoked']} consent(s) withdrawn, {result['threads_deleted']} conversation(s) deleted, "
            f"{result['chat_history_entries_deleted']} chat history entr(ies) deleted; tombstone and audit rows kept"
        )
    return 0
