"""``verify_identity``: a probe image against the enrolled template of the identity a person claims.

A probe that shows several faces is compared only through the one face that matches the claimed identity's
template, and only when exactly one does; otherwise the call is refused, saying how many faces were seen.
"""

from __future__ import annotations

from pydantic import JsonValue

from agent.errors import NotFoundError
from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.graph.toolset.faces import not_matched
from agent.graph.toolset.verify_faces import verification_summary
from agent.policy.tool_specs import VerifyIdentityArgs
from tools.errors import FaceNotSingledOut
from tools.results import VerificationResult


class VerifyIdentity(Tool[VerifyIdentityArgs, VerificationResult]):
    name = "verify_identity"
    args_model = VerifyIdentityArgs

    def run(self, ctx: ToolContext, request: ToolRequest[VerifyIdentityArgs]) -> VerificationResult:
        (probe,) = request.images
        subject = request.args.claimed_subject
        template = ctx.store.get_template(
            subject, model=ctx.settings.model, detector=ctx.settings.detector, now=ctx.clock()
        )
        if template is None:
            raise NotFoundError(f"no enrolled template for {subject!r}", subject=subject)
        try:
            return ctx.engine.verify_against_template(
                ctx.vault.get(probe.sha256),
                list(template.vector),
                template_model=template.model,
                template_detector=template.detector,
                threshold=request.threshold,
                # a template made another way (model, detector, detect size, mirror) is never compared: TemplateMismatch
                template_recipe=template.recipe,
                subject=subject,
                single_out=True,  # several faces: only the one matching the claimed identity, if exactly one does
            )
        except FaceNotSingledOut as exc:
            raise not_matched(probe, subject, exc) from None

    def audit_summary(self, result: VerificationResult) -> dict[str, JsonValue]:
        return verification_summary(result)
