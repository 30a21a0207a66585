"""``verify_faces``: compare the faces in two registered images, one-to-one."""

from __future__ import annotations

from pydantic import JsonValue

from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.tool_specs import VerifyFacesArgs
from tools.results import VerificationResult

VERIFICATION_FIGURES = ("verified", "distance", "threshold", "model", "detector", "metric", "faces_in_a", "faces_in_b")


def verification_summary(result: VerificationResult) -> dict[str, JsonValue]:
    """What a verification's audit row says: the verdict and the numbers behind it."""
    data = result.model_dump(mode="json", include=set(VERIFICATION_FIGURES))
    return {key: data[key] for key in VERIFICATION_FIGURES}


class VerifyFaces(Tool[VerifyFacesArgs, VerificationResult]):
    name = "verify_faces"
    args_model = VerifyFacesArgs

    def run(self, ctx: ToolContext, request: ToolRequest[VerifyFacesArgs]) -> VerificationResult:
        a, b = request.images
        return ctx.engine.verify(ctx.vault.get(a.sha256), ctx.vault.get(b.sha256), threshold=request.threshold)

    def audit_summary(self, result: VerificationResult) -> dict[str, JsonValue]:
        return verification_summary(result)
