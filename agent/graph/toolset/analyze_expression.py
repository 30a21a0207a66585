"""``analyze_expression``: appearance-based expression estimates for each face in a registered image."""

from __future__ import annotations

from pydantic import JsonValue

from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.tool_specs import AnalyzeExpressionArgs
from tools.results import ExpressionResult


class AnalyzeExpression(Tool[AnalyzeExpressionArgs, ExpressionResult]):
    name = "analyze_expression"
    args_model = AnalyzeExpressionArgs

    def run(self, ctx: ToolContext, request: ToolRequest[AnalyzeExpressionArgs]) -> ExpressionResult:
        (image,) = request.images
        return ctx.engine.analyze_expression(ctx.vault.get(image.sha256))

    def audit_summary(self, result: ExpressionResult) -> dict[str, JsonValue]:
        return {"faces": len(result.faces), "dominant": [f.dominant for f in result.faces]}
