"""The inner-state guard: expression results describe appearance, never what a person feels or whether they lie.

"She is really happy", "he is not lying", "elle est contente", "er fühlt sich gestresst", from any reasoner, are
rewritten to appearance wording in the same language with the expression caveat
(:func:`agent.policy.inner_state.rewrite_inner_state`); the audit row carries how many claims were rewritten.
"""

from __future__ import annotations

from agent.graph.guards.base import AnswerContext, GuardVerdict, Withholding
from agent.policy.inner_state import RULE_ID, rewrite_inner_state


class InnerStateGuard:
    name = "inner_state"
    final_only = False

    def review(self, text: str, ctx: AnswerContext) -> GuardVerdict:
        rewrite = rewrite_inner_state(text)
        if not rewrite.claims:
            return GuardVerdict(text=text)
        return GuardVerdict(
            text=rewrite.text,
            withheld=Withholding(
                rule_id=RULE_ID,
                reason=(
                    f"the answer claimed a person's inner state {len(rewrite.claims)} time(s); rewritten to what "
                    "expression analysis can say (appearance)"
                ),
                audit={"claims": len(rewrite.claims), "caveat_added": rewrite.caveat_added},
            ),
        )
