"""``facegate capture nonce``: a single-use liveness nonce for a capture app (the logic is agent.capture's)."""

from __future__ import annotations

import argparse

from agent.cli.common import OneLineParser


def register(sub: argparse._SubParsersAction) -> None:
    capture = sub.add_parser("capture", help="liveness nonces for signing capture apps (C2PA)")
    actions = capture.add_subparsers(dest="capture_command", metavar="ACTION", parser_class=OneLineParser)
    nonce = actions.add_parser(
        "nonce",
        help="issue a single-use nonce for the capture app's org.facegate.liveness assertion",
        description="Issue a single-use nonce. The capture app signs it into the image's C2PA manifest inside an "
        "org.facegate.liveness assertion; a purpose that requires liveness accepts the image once, while the "
        "nonce is fresh.",
    )
    nonce.add_argument("--purpose", required=True, help="the purpose the capture is for (a catalogue purpose)")
    nonce.add_argument("--subject", help="bind the nonce to the person the capture is presented for")
    nonce.add_argument("--ttl", type=int, help="seconds the nonce stays usable (default: settings.capture_nonce_ttl_s)")
    nonce.add_argument("--actor", help="who is issuing (recorded in the audit log; default: settings.actor)")
    nonce.add_argument("--json", action="store_true", help="machine-readable output")
    nonce.set_defaults(handler=_nonce)

    def usage(args: argparse.Namespace) -> int:
        capture.print_help()
        return 2

    capture.set_defaults(handler=usage)


def _nonce(args: argparse.Namespace) -> int:
    import json

    from agent.capture import issue_nonce
    from agent.cli.common import load_settings, print_json
    from agent.policy import load_policy
    from agent.store import Store

    settings = load_settings(args)
    with Store.open(settings.resolved_db_path) as store:
        issued = issue_nonce(
            store,
            load_policy(settings.policy_file),
            purpose=args.purpose,
            subject_id=args.subject,
            actor=args.actor or settings.actor,
            ttl_seconds=args.ttl if args.ttl is not None else settings.capture_nonce_ttl_s,
        )
    if args.json:
        print_json(issued.model_dump(mode="json") | {"assertion": issued.assertion})
        return 0
    print(issued.nonce)
    print(f"purpose {issued.purpose}, subject {issued.subject_id or '(any)'}, expires {issued.expires_at.isoformat()}")
    print(f"sign into the capture's C2PA manifest: {json.dumps(issued.assertion)}")
    return 0
