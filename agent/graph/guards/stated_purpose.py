"""The stated-purpose check: a use the person states in the conversation that is not the session's purpose.

Run on every new message of the person (for every reasoner: a model that misses the phrase cannot skip it) and
on what a model reports with ``report_stated_purpose``. A statement that restates the session's purpose ("for
access control as usual") changes nothing; one that states another use ("this is for our marketing campaign
now") is kept in the thread's state from then on, audited under ``purpose.conversation_mismatch``, and makes
:func:`agent.policy.decide` refuse every tool call of the thread. The purpose itself never changes: a new
conversation started for the stated purpose is the way on. A block once set stays for the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.graph.messages import DecisionRecord
from agent.logging import get_logger
from agent.policy import rules
from agent.policy.models import StatedPurpose
from agent.policy.stated_purpose import conflict, mismatch_reason, reported_purpose, stated_purposes

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from agent.graph.state import Session

STATED_PURPOSE = "stated_purpose"  # the tool name the check's decisions carry in replies and events
MAX_REPORTS = 5  # reports read from one model step

log = get_logger(__name__)


class StatedPurposeCheck:
    """Reads a thread's messages and a model's reports for a use other than the session's purpose."""

    def __init__(self, deps: AgentDeps, session: Session, step: int) -> None:
        self._deps = deps
        self._session = session
        self._step = step
        self.stated: StatedPurpose | None = session.stated_purpose
        self.decisions: list[DecisionRecord] = []

    def read_message(self, text: str) -> None:
        """A new message of the person."""
        if self.stated is None:
            self._block(conflict(stated_purposes(text, self._deps.policy.purposes), self._session.purpose))

    def read_reports(self, reports: Sequence[str]) -> None:
        """What the model reports the person stated (its words are read, never kept)."""
        for report in reports[:MAX_REPORTS]:
            if self.stated is not None:
                return
            self._block(conflict([reported_purpose(report, self._deps.policy.purposes)], self._session.purpose))

    def _block(self, stated: StatedPurpose | None) -> None:
        if stated is None:
            return
        self.stated = stated
        session, policy_hash = self._session, self._deps.policy.hash
        reason = mismatch_reason(stated, session.purpose)
        log.info("policy.stated_purpose", label=stated.label, source=stated.source, session=session.session_id)
        entry = self._deps.audit.refusal(
            actor=session.actor,
            session_id=session.session_id,
            purpose=session.purpose,
            tool="(conversation)",
            rule_id=rules.PURPOSE_CONVERSATION_MISMATCH,
            reason=reason,
            policy_hash=policy_hash,
            extra={"stated": stated.label, "maps_to": list(stated.purposes), "source": stated.source},
        )
        self.decisions.append(
            DecisionRecord(
                outcome="deny",
                rule_id=rules.PURPOSE_CONVERSATION_MISMATCH,
                reason=reason,
                policy_hash=policy_hash,
                call_id=f"purpose-{self._step}",
                tool=STATED_PURPOSE,
                audit_id=entry.audit_id,
            )
        )
