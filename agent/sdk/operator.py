"""What the operator (never the model) does through the SDK: consent, enrollment and subject rights.

Each call goes to the service that owns it (:mod:`agent.consent`, :mod:`agent.enrollment`,
:mod:`agent.subjects`) and then clears what this process holds of the person (pixels, cached embeddings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agent.enrollment import EnrollmentResult
    from agent.graph.deps import AgentDeps
    from agent.policy import ConsentRecord
    from agent.sdk.runner import TurnRunner
    from agent.settings import Settings
    from tools.images import ImageSource


class OperatorActions:
    """The operator's side of :class:`~agent.sdk.facade.FaceAgent` (a mixin over its deps and runner)."""

    settings: Settings
    deps: AgentDeps
    runner: TurnRunner
    checkpointer: BaseCheckpointSaver[Any]

    def grant_consent(
        self,
        subject_id: str,
        *,
        capabilities: Sequence[str],
        purposes: Sequence[str],
        notice: str,
        evidence_method: str = "signed form",
        evidence_reference: str | None = None,
        term_days: int = 365,
        recorded_by: str | None = None,
    ) -> ConsentRecord:
        """Record a person's consent (through :mod:`agent.consent`)."""
        from agent import consent

        return consent.grant_consent(
            self.deps.store, self.deps.policy, subject_id=subject_id, capabilities=capabilities, purposes=purposes,
            notice=notice, evidence_method=evidence_method, recorded_by=recorded_by or self.settings.actor,
            evidence_reference=evidence_reference, term_days=term_days, actor=self.settings.actor,
            now=self.deps.clock(),
        )  # fmt: skip

    def revoke_consent(self, subject_id: str, *, capability: str | None = None) -> list[ConsentRecord]:
        """Withdraw a person's consent at once (through :mod:`agent.consent`).

        The images attached for the person in this process are forgotten too (pixels and cached embeddings):
        a conversation that still needs one must attach it again, and is decided again.
        """
        from agent import consent

        revoked = consent.revoke_consent(
            self.deps.store,
            subject_id=subject_id,
            actor=self.settings.actor,
            capability=capability,
            now=self.deps.clock(),
        )
        self.runner.images.forget_subject(subject_id)
        return revoked

    def export_subject(self, subject_id: str, *, include_templates: bool = False) -> dict[str, Any]:
        """Everything held about a person (GDPR Art. 15/20), through :func:`agent.subjects.export_subject`."""
        from agent.subjects import export_subject

        return export_subject(
            self.deps.store, subject_id, actor=self.settings.actor, include_templates=include_templates,
            now=self.deps.clock(),
        )  # fmt: skip

    def erase_subject(self, subject_id: str) -> dict[str, Any]:
        """Erase a person (GDPR Art. 17): templates, consents, their conversations, and the images and
        embeddings this process holds for them (through :func:`agent.subjects.erase_subject_everywhere`)."""
        from agent.subjects import erase_subject_everywhere

        return erase_subject_everywhere(
            self.deps.store, self.settings, subject_id, actor=self.settings.actor, now=self.deps.clock(),
            checkpointer=self.checkpointer, cleaners=[self.runner.images.forget_subject],
        )  # fmt: skip

    def enroll(self, subject_id: str, image: ImageSource, *, purpose: str) -> EnrollmentResult:
        """Enroll a consenting person's face template (through :mod:`agent.enrollment`)."""
        from agent.enrollment import enroll

        result = enroll(
            self.deps.store, self.deps.engine, self.deps.policy, subject_id=subject_id, image=image, purpose=purpose,
            actor=self.settings.actor, now=self.deps.clock(), provenance=self.deps.provenance,
        )  # fmt: skip
        # the enrolment photo is the person's too: erasure and revocation forget what this process holds of it
        self.runner.images.remember(subject_id, result.image_sha256)
        return result
