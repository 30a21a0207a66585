"""``consent_status``: does an active consent for the session's purpose cover a person pictured here?

No biometric processing. Least disclosure: policy allows the lookup only for people pictured in the conversation's
images (``consent_lookup.not_pictured``), and the assistant learns only which capabilities an active consent for
the session's purpose (the ``limit_to_purpose`` obligation) covers and which it does not: no record ids, notices,
evidence, dates or other purposes' records.
"""

from __future__ import annotations

from agent.graph.messages import ConsentStatusResult
from agent.graph.toolset.base import Tool, ToolContext, ToolRequest
from agent.policy.consent_view import consent_coverage
from agent.policy.tool_specs import ConsentStatusArgs


class ConsentStatus(Tool[ConsentStatusArgs, ConsentStatusResult]):
    name = "consent_status"
    args_model = ConsentStatusArgs

    def run(self, ctx: ToolContext, request: ToolRequest[ConsentStatusArgs]) -> ConsentStatusResult:
        subject, purpose = request.args.subject, request.purpose_limit
        covered, missing = consent_coverage(ctx.store.consents_for(subject), subject, purpose, ctx.clock())
        return ConsentStatusResult(subject=subject, purpose=purpose, covered=covered, missing=missing)
