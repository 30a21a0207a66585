"""Recording a person's answer to a consent question: the one place a paused run's answer becomes consent.

The SDK's turn runner calls it with what its consent handler returned; the LangGraph server's consent node calls
it with the API caller's resume value, and only for an operator's key. Either way the answer is a person's,
recorded by an operator through :mod:`agent.consent` (never by the model), and the run resumes with a
:class:`~agent.graph.state.ConsentReply` that the policy node decides the call again with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from agent.errors import ConsentRequired, FacegateError
from agent.graph.messages import DecisionRecord
from agent.graph.state import ConsentAnswer, ConsentReply
from agent.policy.models import MissingConsent

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps

ConsentAnswers = ConsentAnswer | Mapping[str, ConsentAnswer]
"""One answer every person asked gave, or each person's own (subject id -> answer)."""


def record_or_decline(
    deps: AgentDeps,
    answers: ConsentAnswers,
    *,
    decision: DecisionRecord | None,
    call_id: str,
    thread_id: str,
    actor: str,
) -> ConsentReply:
    """Record each person's own consent (one record per person, from their own answer) and build the resume value
    for the graph. A person who declined or was not answered for gets nothing recorded; if a consent cannot be
    recorded, the run resumes as declined, with the reason (it never stays stuck)."""
    missing = decision.missing if decision is not None else []
    try:
        if not missing:
            if isinstance(answers, ConsentAnswer) and not answers.granted:
                return ConsentReply(granted=False, call_id=call_id)
            raise ConsentRequired("the paused decision names no missing consent to record", call_id=call_id)
        ids, declined = _grant(deps, answers, missing, thread_id=thread_id, actor=actor, asked_at_seq=_seq(decision))
    except FacegateError as exc:
        return ConsentReply(granted=False, call_id=call_id, error=exc.code, message=exc.message)
    return ConsentReply(granted=not declined, consent_ids=ids, call_id=call_id, declined=declined)


def _grant(
    deps: AgentDeps,
    answers: ConsentAnswers,
    missing: Sequence[MissingConsent],
    *,
    thread_id: str,
    actor: str,
    asked_at_seq: int | None,
) -> tuple[list[str], list[str]]:
    """One consent record per person who said yes, with their answer's notice and evidence; (ids, who declined)."""
    from agent.consent import grant_consent

    by_subject: dict[str, tuple[set[str], set[str]]] = {}
    for item in missing:
        caps, purposes = by_subject.setdefault(item.subject_id, (set(), set()))
        caps.add(item.capability.value)
        purposes.add(item.purpose)
    ids: list[str] = []
    declined: list[str] = []
    for subject, (caps, purposes) in by_subject.items():
        answer = answers if isinstance(answers, ConsentAnswer) else answers.get(subject)
        if answer is None or not answer.granted:
            declined.append(subject)
            continue
        notice = answer.notice or (
            f"{subject} was told that facegate will use {', '.join(sorted(caps))} on their face "
            f"for {', '.join(sorted(purposes))}, and can withdraw at any time."
        )
        record = grant_consent(
            deps.store,
            deps.policy,
            subject_id=subject,
            capabilities=sorted(caps),
            purposes=sorted(purposes),
            notice=notice,
            evidence_method=answer.evidence_method,
            recorded_by=actor,
            evidence_reference=answer.evidence_reference or f"thread {thread_id}",
            term_days=answer.term_days,
            actor=actor,
            now=deps.clock(),
            asked_at_seq=asked_at_seq,  # an erasure after the question wins over the answer
        )
        ids.append(record.id)
    return ids, declined


def _seq(decision: DecisionRecord | None) -> int | None:
    """The audit sequence number of the question's decision (None when there is none)."""
    audit_id = decision.audit_id if decision is not None else None
    return int(audit_id) if audit_id is not None and audit_id.isdigit() else None
