"""``facegate policy rules|show``: the policy rules and the purpose catalogue."""

from __future__ import annotations

import click

from agent.cli.common import json_option


def register(cli: click.Group) -> None:
    cli.add_command(policy)


@click.group()
def policy() -> None:
    """The purpose catalogue and the policy rules."""


@policy.command()
@json_option
def rules(as_json: bool) -> int:
    """The rule table: id, outcome, legal anchor."""
    from agent.cli.common import print_json
    from agent.cli.output import print_table
    from agent.policy.rules import ALL_RULES

    if as_json:
        print_json([r.model_dump() for r in ALL_RULES])
    else:
        print_table([(r.id, r.outcome, r.anchor) for r in ALL_RULES], headers=("rule", "outcome", "anchor"),
                    colour_by=1)  # fmt: skip
    return 0


@policy.command()
@json_option
def show(as_json: bool) -> int:
    """The loaded purpose catalogue and its hash."""
    from agent.cli.common import load_settings, policy_of, print_json
    from agent.cli.output import print_table

    loaded = policy_of(load_settings())
    if as_json:
        print_json(loaded.model_dump(mode="json"))
        return 0
    click.echo(f"policy {loaded.version} from {loaded.source}, sha256 {loaded.hash}")
    rows = []
    for p in loaded.purposes.values():
        flags = [f for f, on in (("high-risk", p.high_risk), ("medical/safety", p.medical_or_safety)) if on]
        if p.human_review:
            flags.append("human review")
        if p.verification_threshold_factor is not None:
            flags.append(f"threshold x{p.verification_threshold_factor}")
        caps = ",".join(sorted(c.value for c in p.allowed_capabilities))
        rows.append((p.id, p.context, caps, f"{p.retention_days}d", " ".join(flags)))
    print_table(rows, headers=("purpose", "context", "capabilities", "retention", "notes"))
    click.echo(f"sensitive attributes (never inferred): {', '.join(sorted(loaded.sensitive_attributes))}")
    return 0
