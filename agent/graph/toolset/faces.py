"""Who is in the photo: the face tools analyse only faces consent covers (:mod:`agent.policy.bystanders`).

Each face tool first asks the engine for the image's one face, refusing (before anything is embedded or
classified) an image that shows several. Then, for a labelled image, the labelled person's enrolled template may
single their face out (:func:`reference_for`, which checks their consent and the template's purpose at that
moment); for ``verify_identity`` the claimed identity's template does. When no face can be singled out the call
is refused at run time with :class:`~agent.errors.FacesNotCovered` (``bystanders.not_singled_out``), saying how
many faces were seen; the gate turns that into a denial and audits it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from agent.errors import FacesNotCovered
from agent.policy.bystanders import RULE_ID, not_singled_out, reference_problem
from tools.errors import FaceNotSingledOut, MultipleFaces
from tools.results import FaceReference

if TYPE_CHECKING:
    from agent.graph.messages import ImageHandle
    from agent.graph.toolset.base import ToolContext, ToolRequest
    from tools.images import LoadedImage


def refused(image: ImageHandle, subject: str | None, faces_seen: int, why: str) -> FacesNotCovered:
    """The run-time refusal of a call whose image shows faces consent does not cover."""
    return FacesNotCovered(
        not_singled_out(image.handle, subject, faces_seen, why),
        rule_id=RULE_ID,
        image=image.handle,
        subject=subject,
        faces_seen=faces_seen,
        faces_analysed=0,
    )


def not_matched(image: ImageHandle, subject: str | None, exc: FaceNotSingledOut) -> FacesNotCovered:
    """:class:`FaceNotSingledOut` from the engine, as the refusal the person reads."""
    seen = int(exc.details.get("faces_seen", 0))
    matching = int(exc.details.get("matching", 0))
    whose = f"{subject}'s" if subject else "the"
    why = (
        f"none of the faces matches {whose} enrolled template"
        if matching == 0
        else f"{matching} of the faces match {whose} enrolled template, so none can be told to be theirs"
    )
    return refused(image, subject, seen, why)


def reference_for(ctx: ToolContext, request: ToolRequest[Any], image: ImageHandle, faces_seen: int) -> FaceReference:
    """The labelled person's enrolled template, to single their face out of ``faces_seen``.

    Raises:
        FacesNotCovered: the image is labelled with nobody, or policy does not let their template single them out
            (no consent to face verification for the purpose, no template, a template of another purpose).
    """
    subject = image.subject
    if subject is None:
        raise refused(image, None, faces_seen, "the image is labelled with nobody")
    now = ctx.clock()
    settings = ctx.settings
    purpose = ctx.policy.purposes[request.session.purpose]  # the call's own decision knew this purpose
    template_purpose = ctx.store.template_purpose(subject, model=settings.model, detector=settings.detector, now=now)
    problem = reference_problem(
        subject,
        template_purpose=template_purpose,
        consents=ctx.store.consents_for(subject),
        purpose=purpose,
        now=now,
    )
    template = (
        ctx.store.get_template(subject, model=settings.model, detector=settings.detector, now=now)
        if problem is None
        else None
    )
    if template is None:
        raise refused(image, subject, faces_seen, problem or f"{subject}'s template is no longer on record")
    return FaceReference(vector=template.vector, recipe=template.recipe, subject=subject)


def crowded(
    ctx: ToolContext, request: ToolRequest[Any], image: ImageHandle, loaded: LoadedImage
) -> FaceReference | None:
    """None when the image shows one face (its embedding is now cached); else the reference to single the
    labelled person's face out by (or :class:`FacesNotCovered`). No face is embedded when there are several."""
    try:
        ctx.engine.embed(loaded, require_single_face=True)
    except MultipleFaces as exc:
        return reference_for(ctx, request, image, int(exc.details.get("faces", 2)))
    return None


def faces_figures(seen: int, analysed: int) -> dict[str, JsonValue]:
    """What a tool_run audit row says about faces: how many the image(s) showed and how many were analysed."""
    return {"faces_seen": seen, "faces_analysed": analysed}
