"""The grounding guard: an answer states a face result only when a tool outcome of the turn says so.

"Verified as alice, access granted" after a check that failed, "distance 0.02" when it was 0.16, "she looks happy
(97%)" with no expression analysis run: a model can write any of these. Each result statement an answer makes
(verdict, identity, distance, threshold, expression score; English, German, French, Spanish) is checked against
the facts of this turn's outcomes (:mod:`agent.policy.grounding`); a structured answer's claims are checked
against the very outcome each cites. An answer with an ungrounded or contradicted claim is replaced by the
result as facegate renders it from the typed outcomes (:func:`agent.policy.facts.render_truth`); the audit row
carries the claim counts and kinds, never the text.

In a turn that ran no tool (an explanation of the last result), the facts are the last earlier turn's outcomes.
facegate's own words are not claims to check: the results it rendered and the reasons of its decisions ("a probe
may only be verified against ...") are taken out before the rest of the answer is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import prompts
from agent.graph.guards.base import AnswerContext, GuardVerdict, Withholding
from agent.policy.facts import Fact, fact_from_outcome, render_fact, render_truth
from agent.policy.grounding import RULE_ID, check_answer, check_structured

if TYPE_CHECKING:
    from agent.graph.messages import ToolOutcome


class GroundingGuard:
    name = "grounding"
    final_only = False  # "verified!" sent along with the tool call that is about to check it is a claim too

    def review(self, text: str, ctx: AnswerContext) -> GuardVerdict:
        outcomes = ctx.facts_outcomes
        facts = [fact_from_outcome(o) for o in outcomes]
        structured = ctx.structured if ctx.structured is not None and ctx.structured.text == text else None
        said = without_own_words(text, own_words(facts, [*ctx.outcomes, *ctx.earlier], ctx.labels()))
        if structured is not None:
            report = check_structured(structured.model_copy(update={"text": said}), facts, names=ctx.names)
        else:
            report = check_answer(said, facts, names=ctx.names)
        if report.ok:
            return GuardVerdict(text=text)
        bad = report.ungrounded + report.contradicted
        truth = render_truth(facts, ctx.labels()) if facts else ""
        return GuardVerdict(
            text=truth or str(prompts.data("offline_templates.yaml")["no_result"]),
            withheld=Withholding(
                rule_id=RULE_ID,
                reason=(
                    f"the answer stated {len(bad)} face result(s) that this turn's tool outcomes do not support; "
                    "it was replaced by the results as recorded"
                ),
                subjects=sorted({s for c in bad if c.kind == "identity" and (s := c.label)}),
                audit={
                    "claims": len(report.claims),
                    "ungrounded": len(report.ungrounded),
                    "contradicted": len(report.contradicted),
                    "kinds": sorted({c.kind for c in bad}),
                    "structured": structured is not None,
                    "facts": [f.call_id for f in facts],
                },
            ),
        )


def own_words(facts: Sequence[Fact], outcomes: Sequence[ToolOutcome], labels: Mapping[str, str]) -> list[str]:
    """What facegate itself says about this turn: each fact as it renders it, and each decision's reason."""
    words = [render_fact(f, labels) for f in facts]
    words += [o.decision.reason for o in outcomes if o.decision is not None and o.decision.reason]
    return sorted({w for w in words if w}, key=len, reverse=True)


def without_own_words(text: str, words: Sequence[str]) -> str:
    """``text`` with every occurrence of facegate's own words taken out (what is left is the reasoner's)."""
    for word in words:
        if word in text:
            text = text.replace(word, " ")
    return text
