"""``analyze_expression``: appearance-based expression estimates for the consenting person's face in an image.

An image that shows several faces is analysed only on the face the labelled person's enrolled template singles
out (:mod:`agent.graph.toolset.faces`); without one the call is refused before any face is classified.
"""

from __future__ import annotations

from pydantic import JsonValue

from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.graph.toolset.faces import faces_figures, not_matched, reference_for
from agent.policy.tool_specs import AnalyzeExpressionArgs
from tools.errors import FaceNotSingledOut, MultipleFaces
from tools.results import ExpressionResult


class AnalyzeExpression(Tool[AnalyzeExpressionArgs, ExpressionResult]):
    name = "analyze_expression"
    args_model = AnalyzeExpressionArgs

    def run(self, ctx: ToolContext, request: ToolRequest[AnalyzeExpressionArgs]) -> ExpressionResult:
        (image,) = request.images
        loaded = ctx.vault.get(image.sha256)
        try:
            return ctx.engine.analyze_expression(loaded, single=True)
        except MultipleFaces as exc:
            reference = reference_for(ctx, request, image, int(exc.details.get("faces", 2)))
        try:
            return ctx.engine.analyze_expression(loaded, reference=reference, threshold=request.threshold)
        except FaceNotSingledOut as exc:
            raise not_matched(image, image.subject, exc) from None

    def audit_summary(self, result: ExpressionResult) -> dict[str, JsonValue]:
        summary: dict[str, JsonValue] = {"faces": len(result.faces), "dominant": [f.dominant for f in result.faces]}
        summary.update(faces_figures(result.faces_seen or len(result.faces), len(result.faces)))
        if result.singled_out:
            summary["singled_out"] = True
        return summary
