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
        subjects = ctx.names  # "verify img1 against enrolled christian": a subject's id is a name, not a faith
        categories = sensitive_inferences(text, names=subjects)
        if not categories and ctx.structured is not None:
            # a structured answer's fields too ({"label": "South Asian"}), read with their keys as labels
            claims = [c.model_dump(exclude_none=True) for c in ctx.structured.claims]
            categories = sensitive_inferences(claims, names=subjects)
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
