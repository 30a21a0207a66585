"""The sensitive-answer guard: an answer stating a special-category trait of a person is withheld.

Policy gates tool calls, but a model that was shown a face can answer "she appears to be Muslim" without calling
one (AI Act Art. 5(1)(g)). Such text never reaches the person or the transcript: it is replaced by a refusal
naming the rule; the audit row carries the categories only, never the text.
"""

from __future__ import annotations

from agent.graph.guards.base import AnswerContext, GuardVerdict, Withholding
from agent.policy import rules
from agent.policy.sensitive import CATEGORY_NAMES, sensitive_inferences


class SensitiveInferenceGuard:
    name = "sensitive_inference"
    final_only = False  # text sent along with tool calls is shown to the person too

    def review(self, text: str, ctx: AnswerContext) -> GuardVerdict:
        categories = sensitive_inferences(text)
        if not categories:
            return GuardVerdict(text=text)
        names = ", ".join(CATEGORY_NAMES[c] for c in categories)
        rule = rules.INFERENCE_SENSITIVE_PROHIBITED
        return GuardVerdict(
            text=(
                f"I can't give that answer: it inferred a person's {names}, which facegate never infers from a "
                f"face (rule {rule})."
            ),
            withheld=Withholding(
                rule_id=rule,
                reason=f"the model's answer inferred a person's {names}; it was withheld",
                subjects=ctx.shared_subjects(),
                audit={"categories": list(categories), "note": "model answer withheld"},
            ),
        )
