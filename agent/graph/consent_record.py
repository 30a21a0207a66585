"""Recording a person's answer to a consent question: the one place a paused run's answer becomes consent.

The SDK's turn runner calls it with what its consent handler returned; the LangGraph server's consent node calls
it with the API caller's resume value, and only for an operator's key. Either way the answer is a person's,
recorded by an operator through :mod:`agent.consent` (never by the model), and the run resumes with a
:class:`~agent.graph.state.ConsentReply` that the policy node decides the call again with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.errors import ConsentRequired, FacegateError
from agent.graph.state import ConsentAnswer, ConsentReply
from agent.policy.models import MissingConsent

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps


def record_or_decline(
    deps: AgentDeps,
    answer: ConsentAnswer,
    *,
    missing: Sequence[MissingConsent],
    call_id: str,
    thread_id: str,
    actor: str,
) -> ConsentReply:
    """Record the person's consent (one record per subject) and build the resume value for the graph; if it cannot
    be recorded, the run resumes as declined, with the reason (it never stays stuck)."""
    if not answer.granted:
        return ConsentReply(granted=False, call_id=call_id)
    try:
        if not missing:
            raise ConsentRequired("the paused decision names no missing consent to record", call_id=call_id)
        ids = _grant(deps, answer, missing, reference=answer.evidence_reference or f"thread {thread_id}", actor=actor)
    except FacegateError as exc:
        return ConsentReply(granted=False, call_id=call_id, error=exc.code, message=exc.message)
    return ConsentReply(granted=True, consent_ids=ids, call_id=call_id)


def _grant(
    deps: AgentDeps, answer: ConsentAnswer, missing: Sequence[MissingConsent], *, reference: str, actor: str
) -> list[str]:
    """One consent record per subject named missing, with the answer's notice and evidence; their ids."""
    from agent.consent import grant_consent

    by_subject: dict[str, tuple[set[str], set[str]]] = {}
    for item in missing:
        caps, purposes = by_subject.setdefault(item.subject_id, (set(), set()))
        caps.add(item.capability.value)
        purposes.add(item.purpose)
    ids: list[str] = []
    for subject, (caps, purposes) in by_subject.items():
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
            evidence_reference=reference,
            term_days=answer.term_days,
            actor=actor,
            now=deps.clock(),
        )
        ids.append(record.id)
    return ids
