"""Asking the person at the terminal for consent when a run pauses (``facegate chat`` and ``ask`` at a terminal).

The notice printed is the one recorded, word for word. The consent is recorded by the SDK from the operator's
answers, never by the model. A person consents for themselves only: the SDK calls :func:`prompt_consent` once per
person whose consent is missing, with a request naming that person's uses alone, and records each answer for
that person (one question per person, never one answer for a group).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from agent.policy import Purpose
    from agent.sdk import ConsentAnswer, ConsentRequest

_T = TypeVar("_T")

DEFAULT_EVIDENCE = "verbal, recorded by the operator during the session"
DEFAULT_TERM_DAYS = 30
MAX_TERM_DAYS = 3650
ATTEMPTS = 3  # a question is asked this many times before the consent is taken as declined


class _Declined(Exception):
    """The person at the terminal gave no usable answer (Ctrl-C, end of input, or too many bad answers)."""


def consent_notice(request: ConsentRequest, purposes: Mapping[str, Purpose] | None = None) -> str:
    """The notice shown to the person and recorded with their consent, word for word.

    One text for everyone the paused call needs consent from (the SDK records the same notice for each).
    """
    by_subject: dict[str, list[str]] = {}
    for m in request.missing:
        purpose = m.purpose
        described = purposes.get(purpose) if purposes else None
        what = f"{m.capability.value.replace('_', ' ')} for the purpose {purpose}"
        if described is not None:
            what += f" ({described.description.rstrip('.')})"
        items = by_subject.setdefault(m.subject_id, [])
        if what not in items:
            items.append(what)
    uses = {"; ".join(items) for items in by_subject.values()}
    if len(uses) == 1:
        body = f"facegate will use your face for {uses.pop()}."
    else:
        body = (
            "facegate will use your face for: "
            + "; ".join(f"{subject}: {', '.join(items)}" for subject, items in sorted(by_subject.items()))
            + "."
        )
    return f"{body} The operator records this consent; you can withdraw it at any time."


def prompt_consent(
    request: ConsentRequest,
    *,
    purposes: Mapping[str, Purpose] | None = None,
    read: Callable[[str], str] = input,
    colour: bool = False,
) -> ConsentAnswer:
    """Ask the person at the terminal; the consent is recorded by the SDK from this answer, never by the model.

    ``read`` reads one answer (the chat passes one that keeps no history). Any bad answer is asked again;
    Ctrl-C, end of input or repeated bad answers decline. Never raises.
    """
    from agent.cli.output import paint
    from agent.sdk import ConsentAnswer

    missing = "; ".join(f"{m.subject_id}: {m.capability} for {m.purpose}" for m in request.missing)
    click.echo(paint(f"\nPolicy needs consent before {request.tool} can run: {missing}.", "needs_consent",
                     enabled=colour))  # fmt: skip
    if request.decision is not None:
        click.echo(f"  ({request.decision.rule_id}: {request.decision.reason})")
    subjects = ", ".join(sorted({m.subject_id for m in request.missing}))
    notice = consent_notice(request, purposes)
    click.echo("Notice (show or read it to the person word for word; it is recorded with the consent):")
    click.echo(f"  {notice}")
    try:
        agreed = _ask(
            read,
            f"Was {subjects} shown this notice, and did they agree to it now? [y/N] ",
            lambda a: {"y": True, "yes": True, "n": False, "no": False, "": False}.get(a.lower()),
            "answer y or n",
        )
        if not agreed:
            click.echo("  consent not given")
            return ConsentAnswer(granted=False)
        method = _ask(
            read, f"How was consent given? [{DEFAULT_EVIDENCE}] ", _evidence, "describe it in 3 to 200 characters"
        )
        term = _ask(
            read,
            f"For how many days (1-{MAX_TERM_DAYS})? [{DEFAULT_TERM_DAYS}] ",
            _term,
            f"a whole number 1-{MAX_TERM_DAYS}",
        )
    except _Declined as why:
        click.echo(f"\n  consent not recorded ({why})")
        return ConsentAnswer(granted=False)
    return ConsentAnswer(granted=True, notice=notice, evidence_method=method, term_days=term)


def _ask(read: Callable[[str], str], prompt: str, parse: Callable[[str], _T | None], hint: str) -> _T:
    """Ask until ``parse(answer)`` is not None (at most ATTEMPTS times); raises _Declined otherwise."""
    for _ in range(ATTEMPTS):
        try:
            answer = read(prompt).strip()
        except EOFError:
            raise _Declined("end of input") from None
        except KeyboardInterrupt:
            raise _Declined("interrupted") from None
        value = parse(answer)
        if value is not None:
            return value
        click.echo(f"  not understood: {hint}")
    raise _Declined("no usable answer")


def _evidence(answer: str) -> str | None:
    if not answer:
        return DEFAULT_EVIDENCE
    if 3 <= len(answer) <= 200 and answer.isprintable() and any(c.isalpha() for c in answer):
        return answer
    return None


def _term(answer: str) -> int | None:
    if not answer:
        return DEFAULT_TERM_DAYS
    if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= MAX_TERM_DAYS:
        return int(answer)
    return None
