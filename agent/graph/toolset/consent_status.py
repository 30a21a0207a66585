"""``consent_status``: what consent is on record for a subject (no biometric processing).

Only the records covering the session's purpose are shown (the ``limit_to_purpose`` obligation): another
purpose's records are not this session's business.
"""

from __future__ import annotations

from agent.graph.messages import ConsentStatusResult
from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.consent_view import records_for_purpose, view_consents
from agent.policy.tool_specs import ConsentStatusArgs


class ConsentStatus(Tool[ConsentStatusArgs, ConsentStatusResult]):
    name = "consent_status"
    args_model = ConsentStatusArgs

    def run(self, ctx: ToolContext, request: ToolRequest[ConsentStatusArgs]) -> ConsentStatusResult:
        subject = request.args.subject
        records = records_for_purpose(ctx.store.consents_for(subject), request.purpose_limit)
        return ConsentStatusResult(
            subject=subject, purpose=request.purpose_limit, consents=view_consents(records, ctx.clock())
        )
