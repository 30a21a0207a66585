"""Consent, enrollment, subject-rights, retention, audit and policy commands.

``facegate consent grant|revoke|list|show``, ``facegate enroll``, ``facegate subject list|export|erase``,
``facegate retention sweep``, ``facegate audit verify|show|head``, ``facegate policy rules|show``.
Handlers import their dependencies lazily so ``facegate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.common import OneLineParser

if TYPE_CHECKING:
    from agent.policy import Policy
    from agent.settings import Settings
    from agent.store import Store

# Spelled out rather than imported: the enum and the Literal live in pydantic modules that `facegate --help`
# must not pay for. tests/test_consent_cli.py keeps these in step with tools.specs and agent.store.models.
_CAPS = ("face_verification", "expression_analysis", "enrollment", "llm_image_sharing")
_KINDS = (
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
)


# Kept in step with agent.store.models.MAX_DAYS (tests/test_consent_cli.py checks).
_MAX_DAYS = 36_500


def _bounded_int(low: int, high: int | None = None) -> Any:
    """An argparse ``type`` for an integer in ``[low, high]``: anything else is a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range ({bounds})")
        return value

    parse.__name__ = "integer"
    return parse


def register(sub: argparse._SubParsersAction) -> None:
    _register_consent(sub)
    _register_enroll(sub)
    _register_subject(sub)
    _register_retention(sub)
    _register_audit(sub)
    _register_policy(sub)


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    # Kept for parsers a caller built with plain argparse (tests); facegate's own are OneLineParser already.
    parser.error = functools.partial(OneLineParser.error, parser)  # type: ignore[method-assign,arg-type]
    return parser


def _group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    parser = _one_line_errors(sub.add_parser(name, help=help, description=help))
    actions = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", parser_class=OneLineParser)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)
    return actions


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _actor_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", help="who is acting (recorded in the audit log; default: settings.actor)")


# --- registration -----------------------------------------------------------------------------------------


def _register_consent(sub: argparse._SubParsersAction) -> None:
    actions = _group(sub, "consent", "record, withdraw and inspect consent")

    grant = actions.add_parser("grant", help="record a consent (notice, purpose, term and evidence required)")
    grant.add_argument("subject", help="subject id")
    grant.add_argument("--capability", action="append", required=True, choices=_CAPS, help="repeatable")
    grant.add_argument("--purpose", action="append", required=True, help="purpose id (repeatable)")
    grant.add_argument("--notice", help="the notice shown to the person (text or version)")
    grant.add_argument("--evidence-method", help="how consent was given: signed_form, click_through, ...")
    grant.add_argument("--recorded-by", help="who recorded the consent")
    grant.add_argument("--evidence-reference", help="where the evidence is kept (form number, URL, ...)")
    term = grant.add_mutually_exclusive_group()
    term.add_argument("--expires", help="end of the term: a UTC date (YYYY-MM-DD, ends at 00:00) or ISO time")
    term.add_argument("--term-days", type=_bounded_int(1, _MAX_DAYS), help=f"term in days from now (1..{_MAX_DAYS})")
    grant.add_argument(
        "--retention-days",
        type=_bounded_int(1, _MAX_DAYS),
        help="keep templates at most this long (default: purpose's)",
    )
    _actor_flag(grant)
    _json_flag(grant)
    grant.set_defaults(handler=_consent_grant)

    revoke = actions.add_parser("revoke", help="withdraw consent (at once; templates are deleted)")
    revoke.add_argument("subject")
    revoke.add_argument("--consent-id", help="withdraw only this record")
    revoke.add_argument("--capability", choices=_CAPS, help="withdraw only this capability")
    _actor_flag(revoke)
    _json_flag(revoke)
    revoke.set_defaults(handler=_consent_revoke)

    lst = actions.add_parser("list", help="list consent records (of one subject, or of everyone)")
    lst.add_argument("subject", nargs="?")
    lst.add_argument("--active", action="store_true", help="only records active now")
    _json_flag(lst)
    lst.set_defaults(handler=_consent_list)

    show = actions.add_parser("show", help="show one consent record")
    show.add_argument("consent_id")
    _json_flag(show)
    show.set_defaults(handler=_consent_show)


def _register_enroll(sub: argparse._SubParsersAction) -> None:
    enroll = _one_line_errors(
        sub.add_parser(
            "enroll",
            help="store a subject's face template (needs enrollment consent for the purpose)",
            description="Store a subject's face template. Needs an active enrollment consent for the purpose; "
            "the image must hold exactly one face.",
        )
    )
    enroll.add_argument("subject")
    enroll.add_argument("image", type=Path)
    enroll.add_argument("--purpose", required=True)
    enroll.add_argument("--session", help="session id recorded in the audit log")
    _actor_flag(enroll)
    _json_flag(enroll)
    enroll.set_defaults(handler=_enroll)


def _register_subject(sub: argparse._SubParsersAction) -> None:
    actions = _group(sub, "subject", "subject rights: export and erase")
    lst = actions.add_parser("list", help="list subjects")
    _json_flag(lst)
    lst.set_defaults(handler=_subject_list)

    export = actions.add_parser("export", help="everything held about a subject, as JSON")
    export.add_argument("subject")
    export.add_argument("--include-templates", action="store_true", help="include the template vectors")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    _actor_flag(export)
    export.set_defaults(handler=_subject_export)

    erase = actions.add_parser(
        "erase", help="delete templates, conversations and cached data, withdraw consent, keep a tombstone"
    )
    erase.add_argument("subject")
    _actor_flag(erase)
    _json_flag(erase)
    erase.set_defaults(handler=_subject_erase)


def _register_retention(sub: argparse._SubParsersAction) -> None:
    actions = _group(sub, "retention", "delete what has outlived its retention period")
    sweep = actions.add_parser("sweep", help="delete templates past retention or no longer consented to")
    _actor_flag(sweep)
    _json_flag(sweep)
    sweep.set_defaults(handler=_retention_sweep)


def _register_audit(sub: argparse._SubParsersAction) -> None:
    actions = _group(sub, "audit", "the tamper-evident audit log")
    verify = actions.add_parser("verify", help="check the hash chain; exit 0 when intact, 8 naming the bad row")
    verify.add_argument("--expect-head", help="a head hash anchored earlier; the chain must still contain it")
    _json_flag(verify)
    verify.set_defaults(handler=_audit_verify)

    show = actions.add_parser("show", help="show audit rows")
    show.add_argument("--subject")
    show.add_argument("--session")
    show.add_argument("--since", help="UTC date or ISO time")
    show.add_argument("--until", help="UTC date or ISO time")
    show.add_argument("--kind", choices=_KINDS)
    show.add_argument("--limit", type=_bounded_int(1), help="the most recent N rows (N >= 1)")
    _json_flag(show)
    show.set_defaults(handler=_audit_show)

    head = actions.add_parser("head", help="print the head hash (anchor it somewhere outside this machine)")
    _json_flag(head)
    head.set_defaults(handler=_audit_head)


def _register_policy(sub: argparse._SubParsersAction) -> None:
    actions = _group(sub, "policy", "the purpose catalogue and the policy rules")
    rules = actions.add_parser("rules", help="the rule table: id, outcome, legal anchor")
    _json_flag(rules)
    rules.set_defaults(handler=_policy_rules)
    show = actions.add_parser("show", help="the loaded purpose catalogue and its hash")
    _json_flag(show)
    show.set_defaults(handler=_policy_show)


# --- helpers ----------------------------------------------------------------------------------------------


def parse_when(text: str, *, name: str) -> datetime:
    """A UTC date (midnight) or an ISO timestamp (naive means UTC); UserError when unreadable."""
    from datetime import UTC

    from tools.errors import UserError

    try:
        value = datetime.fromisoformat(text.strip())
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        value.astimezone(UTC)  # 9999-12-31T23:00-05:00 is past the last representable UTC time
    except ValueError:
        raise UserError(f"{name}: cannot read {text!r} as a date (YYYY-MM-DD) or ISO time") from None
    except OverflowError:
        raise UserError(f"{name}: {text!r} is out of range (past year 9999 in UTC)") from None
    return value


@contextmanager
def _opened(args: argparse.Namespace, *, create: bool = False) -> Iterator[tuple[Settings, Store]]:
    """Settings and the store. Only commands that record something new (``create``) may create the database:
    anything else on a missing one is "no facegate database at ... (wrong --home?)", not an empty, intact log."""
    from agent.cli.common import load_settings
    from agent.store import Store

    settings = load_settings(args)
    store = Store.open(settings.resolved_db_path, create=create)
    try:
        yield settings, store
    finally:
        store.close()


def _policy(settings: Settings) -> Policy:
    from agent.policy import load_policy

    return load_policy(settings.policy_file)


def _actor(args: argparse.Namespace, settings: Settings) -> str:
    return getattr(args, "actor", None) or settings.actor


def _print_consents(items: list[dict[str, Any]]) -> None:
    if not items:
        print("no consent records")
        return
    for c in items:
        expires = c["expires_at"] or "-"
        print(
            f"{c['id']}  {c['subject_id']:<16} {c['status']:<10} {','.join(c['capabilities'])}  "
            f"for {','.join(c['purposes'])}  expires {expires}"
        )


# --- handlers ---------------------------------------------------------------------------------------------


def _consent_grant(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.consent import describe_consent, grant_consent

    expires = parse_when(args.expires, name="--expires") if args.expires else None
    with _opened(args, create=True) as (settings, store):
        record = grant_consent(
            store,
            _policy(settings),
            subject_id=args.subject,
            capabilities=args.capability,
            purposes=args.purpose,
            notice=args.notice,
            evidence_method=args.evidence_method,
            recorded_by=args.recorded_by,
            evidence_reference=args.evidence_reference,
            expires_at=expires,
            term_days=args.term_days,
            retention_days=args.retention_days,
            actor=_actor(args, settings),
        )
        view = describe_consent(record, record.granted_at)
    if args.json:
        print_json(view)
    else:
        print(f"recorded consent {record.id} for {record.subject_id} (expires {view['expires_at']})")
    return 0


def _consent_revoke(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.consent import describe_consents, revoke_consent

    with _opened(args) as (settings, store):
        revoked = revoke_consent(
            store,
            subject_id=args.subject,
            actor=_actor(args, settings),
            consent_id=args.consent_id,
            capability=args.capability,
        )
        views = describe_consents(revoked, revoked[0].revoked_at) if revoked else []  # type: ignore[arg-type]
        last = store.audit.query(subject=args.subject, kind="consent_revoke", limit=1)
    deleted = last[0].summary.get("templates_deleted", 0) if last else 0
    if args.json:
        print_json({"revoked": views, "templates_deleted": deleted})
    else:
        for v in views:
            print(f"revoked {v['id']} ({','.join(v['capabilities'])} for {','.join(v['purposes'])})")
        if deleted:
            print(f"deleted {deleted} face template(s)")
    return 0


def _consent_list(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.consent import describe_consents
    from agent.store.db import utcnow

    now = utcnow()
    with _opened(args) as (_settings, store):
        if args.subject:
            store.require_subject(args.subject)
            subjects = [args.subject]
        else:
            subjects = [s.id for s in store.list_subjects()]
        views = describe_consents(store.consents_for_many(subjects), now)
    if args.active:
        views = [v for v in views if v["status"] == "active"]
    if args.json:
        print_json(views)
    else:
        _print_consents(views)
    return 0


def _consent_show(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.consent import describe_consent
    from agent.store.db import utcnow

    with _opened(args) as (_settings, store):
        view = describe_consent(store.get_consent(args.consent_id), utcnow())
    if args.json:
        print_json(view)
    else:
        for key, value in view.items():
            print(f"{key:<15} {value}")
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.enrollment import enroll
    from tools.engine import FaceEngine

    with _opened(args, create=True) as (settings, store):
        result = enroll(
            store,
            FaceEngine(settings),
            _policy(settings),
            subject_id=args.subject,
            image=str(args.image),
            purpose=args.purpose,
            actor=_actor(args, settings),
            session_id=args.session,
        )
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        print(
            f"enrolled {result.subject_id} for {result.purpose}: template {result.template_id} "
            f"({result.model}/{result.detector}), kept until {result.expires_at.isoformat()}"
        )
    return 0


def _subject_list(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json

    with _opened(args) as (_settings, store):
        subjects = store.list_subjects()
    if args.json:
        print_json([s.model_dump(mode="json") for s in subjects])
    else:
        for s in subjects:
            if s.erased_at is None:
                status = "active"
            elif s.erased:
                status = f"erased {s.erased_at.isoformat()}"
            else:  # came back after an erasure: say so
                back = s.reregistered_at.isoformat() if s.reregistered_at else "?"
                status = f"active (erased {s.erased_at.isoformat()}, registered again {back})"
            print(f"{s.id:<20} {status}")
    return 0


def _subject_export(args: argparse.Namespace) -> int:
    import json

    from agent.cli.common import print_json
    from agent.subjects import export_subject

    with _opened(args) as (settings, store):
        data = export_subject(
            store, args.subject, actor=_actor(args, settings), include_templates=args.include_templates
        )
    if args.output:
        args.output.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"wrote {args.output}")
    else:
        print_json(data)
    return 0


def _subject_erase(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.subjects import erase_subject_everywhere

    with _opened(args) as (settings, store):
        result = erase_subject_everywhere(store, settings, args.subject, actor=_actor(args, settings))
    if args.json:
        print_json(result)
    else:
        print(
            f"erased {args.subject}: {result['templates_deleted']} template(s) deleted, "
            f"{result['consents_revoked']} consent(s) withdrawn, {result['threads_deleted']} conversation(s) "
            "deleted; tombstone and audit rows kept"
        )
    return 0


def _retention_sweep(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json

    with _opened(args) as (settings, store):
        report = store.sweep_retention(actor=_actor(args, settings))
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print(f"deleted {report.templates_deleted} template(s) of {len(report.subjects)} subject(s)")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from agent.cli.common import err, print_json
    from agent.errors import AuditIntegrityError

    with _opened(args) as (_settings, store):
        report = store.audit.verify(expect_head=args.expect_head)
    if args.json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        print(f"audit log intact: {report.rows} rows, head {report.head_hash} ({report.elapsed_ms:.0f} ms)")
    if not report.ok:
        if not args.json:
            where = f" at row {report.first_bad_seq}" if report.first_bad_seq is not None else ""
            err(f"{AuditIntegrityError.code}: audit log damaged{where}: {report.problem}")
        return AuditIntegrityError.exit_code
    return 0


def _audit_show(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json

    since = parse_when(args.since, name="--since") if args.since else None
    until = parse_when(args.until, name="--until") if args.until else None
    with _opened(args) as (_settings, store):
        entries = store.audit.query(
            subject=args.subject,
            session=args.session,
            since=since,
            until=until,
            kind=args.kind,
            limit=args.limit,
        )
    if args.json:
        print_json([e.model_dump(mode="json") for e in entries])
        return 0
    for e in entries:
        decided = f" {e.outcome}" if e.outcome else ""
        rule = f" [{e.rule_id}]" if e.rule_id else ""
        extras = []
        if e.purpose:
            extras.append(f"purpose={e.purpose}")
        if e.capability:
            extras.append(f"capability={e.capability}")
        if e.session_id:
            extras.append(f"session={e.session_id}")
        print(
            f"{e.seq:>6} {e.ts.isoformat()} {e.kind:<15} {e.actor:<10} {','.join(e.subjects) or '-'}"
            f"{decided}{rule} {' '.join(extras)}".rstrip()
        )
    return 0


def _audit_head(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json

    with _opened(args) as (_settings, store):
        count, head = store.audit.head()
    if args.json:
        print_json({"rows": count, "head_hash": head})
    else:
        print(head)
    return 0


def _policy_rules(args: argparse.Namespace) -> int:
    from agent.cli.common import print_json
    from agent.policy.rules import ALL_RULES as RULES

    if args.json:
        print_json([r.model_dump() for r in RULES])
        return 0
    width = max(len(r.id) for r in RULES)
    for r in RULES:
        print(f"{r.id:<{width}}  {r.outcome:<13}  {r.anchor}")
    return 0


def _policy_show(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings, print_json

    policy = _policy(load_settings(args))
    if args.json:
        print_json(policy.model_dump(mode="json"))
        return 0
    print(f"policy {policy.version} from {policy.source}, sha256 {policy.hash}")
    for p in policy.purposes.values():
        flags = [f for f, on in (("high-risk", p.high_risk), ("medical/safety", p.medical_or_safety)) if on]
        if p.human_review:
            flags.append("human review")
        if p.verification_threshold_factor is not None:
            flags.append(f"threshold x{p.verification_threshold_factor}")
        caps = ",".join(sorted(c.value for c in p.allowed_capabilities))
        print(f"  {p.id:<22} {p.context:<12} {caps}  retention {p.retention_days}d  {' '.join(flags)}")
    print(f"  sensitive attributes (never inferred): {', '.join(sorted(policy.sensitive_attributes))}")
    return 0
