"""The policy-notes guard: the person hears about every refusal of the turn, whatever the reasoner wrote.

A model may gloss over a denial (or be talked into doing so); the rule id and reason are appended for each
refused call the answer does not name.
"""

from __future__ import annotations

from agent.graph.guards.base import AnswerContext, GuardVerdict


class PolicyNotesGuard:
    name = "policy_notes"
    final_only = True

    def review(self, text: str, ctx: AnswerContext) -> GuardVerdict:
        notes = [
            f"[policy] {o.tool} was refused under rule {o.decision.rule_id}: {o.decision.reason}"
            for o in ctx.outcomes
            if o.status == "denied" and o.decision is not None and o.decision.rule_id not in text
        ]
        return GuardVerdict(text="\n".join([text, *notes]).strip() if notes else text)
