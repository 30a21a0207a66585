"""``verify_faces``: compare the faces in two registered images, one-to-one.

An image that shows several faces is compared only through the face its labelled person's enrolled template
singles out (:mod:`agent.graph.toolset.faces`); without one the call is refused, never run on the largest face.
"""

from __future__ import annotations

from pydantic import JsonValue

from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.graph.toolset.faces import crowded, faces_figures, not_matched
from agent.policy.tool_specs import VerifyFacesArgs
from tools.errors import FaceNotSingledOut
from tools.results import VerificationResult

VERIFICATION_FIGURES = ("verified", "distance", "threshold", "model", "detector", "metric", "faces_in_a", "faces_in_b")


def verification_summary(result: VerificationResult) -> dict[str, JsonValue]:
    """What a verification's audit row says: the verdict, the numbers behind it, and the faces seen/analysed."""
    data = result.model_dump(mode="json", include=set(VERIFICATION_FIGURES))
    summary: dict[str, JsonValue] = {key: data[key] for key in VERIFICATION_FIGURES}
    two = result.faces_in_b is not None
    summary.update(faces_figures(result.faces_in_a + (result.faces_in_b or 0), 2 if two else 1))
    sides = (("a", result.singled_out_a), ("b", result.singled_out_b))
    singled: list[JsonValue] = [side for side, flag in sides if flag]
    if singled:
        summary["singled_out"] = singled  # by the labelled (or claimed) person's enrolled template
    return summary


class VerifyFaces(Tool[VerifyFacesArgs, VerificationResult]):
    name = "verify_faces"
    args_model = VerifyFacesArgs

    def run(self, ctx: ToolContext, request: ToolRequest[VerifyFacesArgs]) -> VerificationResult:
        a, b = request.images
        ia, ib = ctx.vault.get(a.sha256), ctx.vault.get(b.sha256)
        ref_a, ref_b = crowded(ctx, request, a, ia), crowded(ctx, request, b, ib)
        try:
            return ctx.engine.verify(
                ia, ib, require_single_face=True, threshold=request.threshold, reference_a=ref_a, reference_b=ref_b
            )
        except FaceNotSingledOut as exc:
            image = b if exc.details.get("image") == "b" else a
            raise not_matched(image, image.subject, exc) from None

    def audit_summary(self, result: VerificationResult) -> dict[str, JsonValue]:
        return verification_summary(result)
