"""Answer guards: every answer a reasoner gives passes an ordered list of guards with one interface.

A guard reads the answer and this turn's typed outcomes and returns a verdict: the text to pass on (unchanged,
amended or replaced) and, when it withheld something, what was withheld and under which rule. Guards are pure:
:func:`review_answer` audits each withholding (rule id and categories, never the withheld text) and turns it into
a decision of the turn. Adding a guard is one module with a class that has ``name``, ``final_only`` and
``review``, listed in :func:`default_answer_guards`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.graph.messages import DecisionRecord, ImageHandle, ToolOutcome
from agent.logging import get_logger
from agent.policy.grounding import StructuredAnswer

if TYPE_CHECKING:
    from agent.graph.state import Session
    from agent.store import AuditWriter

ANSWER_GUARD = "answer_guard"  # the tool name a guard's decisions carry in replies and events

log = get_logger(__name__)


@dataclass(frozen=True)
class AnswerContext:
    """What a guard may consider besides the text: the session, this turn's outcomes and the shared images.

    ``earlier``: the outcomes of the last earlier turn that had any (the "last result" an explanation restates);
    ``structured``: the answer as structured output, when the reasoner gave one (its ``text`` is the text).
    """

    session: Session
    outcomes: Sequence[ToolOutcome]
    images: Sequence[ImageHandle]
    shared: Sequence[str]  # handles the reasoner was shown this step (llm_image_sharing)
    step: int
    policy_hash: str
    earlier: Sequence[ToolOutcome] = ()
    structured: StructuredAnswer | None = None

    def shared_subjects(self) -> list[str]:
        """The people whose images the reasoner saw this step."""
        by_handle = {i.handle: i for i in self.images}
        return sorted({s for h in self.shared if (s := by_handle[h].subject if h in by_handle else None)})

    @property
    def names(self) -> tuple[str, ...]:
        """Subject ids of the conversation (image labels, claimed and looked-up subjects): names, never traits."""
        found = [i.subject for i in self.images if i.subject]
        for outcome in (*self.outcomes, *self.earlier):
            found += [v for k, v in outcome.args.items() if k.endswith("subject") and isinstance(v, str)]
        return tuple(dict.fromkeys(found))

    @property
    def facts_outcomes(self) -> Sequence[ToolOutcome]:
        """What an answer may state results of: this turn's outcomes, or, in a turn that ran nothing (an
        explanation), the last earlier turn's. Never both: an old match cannot ground a claim about a new check."""
        return self.outcomes or self.earlier

    def labels(self) -> dict[str, str]:
        """How answers name each image: "img1 (alice)", "img2 (probe)"."""
        return {i.handle: f"{i.handle} ({i.label})" for i in self.images}


class Withholding(BaseModel):
    """What a guard withheld: the rule, a reason a person can read, whom it concerned, and what the audit row
    may say about it (categories, counts; never the withheld text)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    reason: str
    subjects: list[str] = Field(default_factory=list)
    audit: dict[str, JsonValue] = Field(default_factory=dict)


class GuardVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    withheld: Withholding | None = None


class AnswerGuard(Protocol):
    """One check on an answer. ``final_only``: skip the text a reasoner sends along with tool calls."""

    name: str
    final_only: bool

    def review(self, text: str, ctx: AnswerContext) -> GuardVerdict: ...


def review_answer(
    guards: Sequence[AnswerGuard], text: str, ctx: AnswerContext, audit: AuditWriter, *, final: bool
) -> tuple[str, list[DecisionRecord]]:
    """Pass ``text`` through ``guards`` in order; audit what they withheld. Returns the text and the decisions."""
    decisions: list[DecisionRecord] = []
    for guard in guards:
        if guard.final_only and not final:
            continue
        verdict = guard.review(text, ctx)
        text = verdict.text
        held = verdict.withheld
        if held is None:
            continue
        log.info("policy.output_guard", guard=guard.name, rule_id=held.rule_id, session=ctx.session.session_id)
        entry = audit.refusal(
            actor=ctx.session.actor,
            session_id=ctx.session.session_id,
            purpose=ctx.session.purpose,
            tool="(answer)",
            rule_id=held.rule_id,
            reason=held.reason,
            policy_hash=ctx.policy_hash,
            subjects=held.subjects,
            extra={**held.audit, "guard": guard.name},
        )
        decisions.append(
            DecisionRecord(
                outcome="deny",
                rule_id=held.rule_id,
                reason=held.reason,
                policy_hash=ctx.policy_hash,
                call_id=f"answer-{ctx.step}",
                tool=ANSWER_GUARD,
                audit_id=entry.audit_id,
            )
        )
    return text, decisions


def default_answer_guards() -> tuple[AnswerGuard, ...]:
    """The shipped guards, in order: withhold sensitive inferences, rewrite inner-state claims to appearance
    wording, replace ungrounded result claims by the rendered truth, and last make sure refusals are said.

    The rewrite runs before grounding because it produces appearance claims ("she is really happy" becomes "her
    expression looks happy"): grounding then checks those against the analysis like any other claim.
    """
    from agent.graph.guards.grounding import GroundingGuard
    from agent.graph.guards.inner_state import InnerStateGuard
    from agent.graph.guards.policy_notes import PolicyNotesGuard
    from agent.graph.guards.sensitive import SensitiveInferenceGuard

    return (SensitiveInferenceGuard(), InnerStateGuard(), GroundingGuard(), PolicyNotesGuard())
