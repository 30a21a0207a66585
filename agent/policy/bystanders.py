"""Who is in the photo: a face tool analyses only the faces consent covers. Pure: no engine, no store.

A photo labelled with one consenting person may show others (bystanders). How many faces an image shows is an
engine fact, known only once a detector has looked at the pixels, so this is decided at run time, around the tool
(:mod:`agent.graph.toolset.faces`), not by :func:`agent.policy.decide` ahead of it. A tool that finds several
faces where consent covers one either singles the labelled person's face out, or refuses the call under
``bystanders.not_singled_out`` saying how many faces it saw.

Singling out means comparing every face in the image, once and in memory, with the person's enrolled template,
and keeping the one face within the threshold, only when exactly one is. That is a face verification of her, so
it needs what ``verify_identity`` needs of her (:func:`reference_problem`): an active consent to
face_verification for the session's purpose and a template that serves the purpose. Nobody else's face is kept,
reported or audited beyond a count. For ``verify_identity`` the reference is the claimed identity's template,
which the call's own decision already allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agent.policy.capabilities import Capability
from agent.policy.decide import consent_state, template_serves
from agent.policy.models import ConsentRecord, Purpose
from agent.policy.rules import BYSTANDERS_NOT_SINGLED_OUT

RULE_ID = BYSTANDERS_NOT_SINGLED_OUT


def reference_problem(
    subject_id: str,
    *,
    template_purpose: str | None,
    consents: Sequence[ConsentRecord],
    purpose: Purpose,
    now: datetime,
) -> str | None:
    """Why ``subject_id``'s enrolled template may not single out their face for ``purpose``; None when it may.

    Args:
        template_purpose: the purpose recorded on the subject's usable template (``Store.template_purpose``:
            None when there is no usable template, "" for one stored without a purpose).
        consents: the subject's consent records.
    """
    cap = Capability.FACE_VERIFICATION
    if cap not in purpose.allowed_capabilities:
        return f"{purpose.id} does not allow face verification, which telling {subject_id}'s face apart needs"
    state = consent_state(subject_id, cap, purpose.id, consents, now)
    if state != "active":
        return (
            f"{subject_id} has no active consent to face verification for {purpose.id} (singling their face out "
            "compares every face with their enrolled template)"
        )
    if template_purpose is None:
        return f"{subject_id} has no enrolled face template to single their face out with"
    problem, _ = template_serves(subject_id, template_purpose, purpose, consents, now)
    return problem


def not_singled_out(handle: str, subject_id: str | None, faces_seen: int, why: str) -> str:
    """The refusal a person reads: how many faces were seen, whose face could not be told apart, and why."""
    who = f"{subject_id}'s" if subject_id else "a consenting person's"
    return (
        f"{handle} shows {faces_seen} faces, and consent covers only {who}; it could not be singled out: {why}. "
        f"No face in {handle} was analysed or reported. Attach a photo that shows only the person concerned."
    )


def sharing_refused(handle: str, subject_id: str | None, faces_seen: int) -> str:
    """Why an image showing several faces is not shared with the assistant (the whole picture would go)."""
    who = subject_id or "the person labelled"
    return (
        f"{handle} shows {faces_seen} faces: sharing it would show the assistant the faces of people other than "
        f"{who}, who have not consented to that. Nothing was shared."
    )
