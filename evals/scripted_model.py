"""A model that does exactly what a scenario scripts: the calls, the text with them, the answer, the reports.

Stands in for a model that misbehaves (or is attacked): evaluations must show that policy, the graph and the
answer guards hold whatever a model asks for or says. Per user turn it makes the scripted calls (with the scripted
interim text and stated-purpose reports), then answers with the scripted text (and structured claims), or, when
none is scripted, with a plain summary of what happened. The turn is the number of user turns in the transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.reasoners.base import ReasonerStep
    from evals.agent_eval import ModelCall, TurnSpec

# Hostile argument shapes a scenario can ask for by name (YAML cannot hold a 5 MB string comfortably).
OVERSIZE = ("string", "deep", "wide", "keys")


def oversized(kind: str) -> object:
    """The hostile value a ``ModelCall.oversize`` names: 5 MB, 500 levels deep, 200,000 values, 4,000 keys."""
    if kind == "string":
        return "x" * 5_000_000
    if kind == "deep":
        value: object = "img1"
        for _ in range(500):
            value = {"a": value}
        return value
    if kind == "wide":
        return list(range(200_000))
    if kind == "keys":
        return {f"k{i}": "v" * 10 for i in range(4000)}
    raise ValueError(f"unknown oversize kind {kind!r}")


def call_args(call: ModelCall) -> dict[str, Any]:
    args = dict(call.args)
    if call.oversize is not None:
        args["payload"] = oversized(call.oversize)
    return args


def call_id(turn: int, n: int, call: ModelCall) -> str:
    return call.id or f"m{turn}-{n}"


class ScriptedModel:
    """A reasoner playing a scenario's scripted turns (see the module docstring)."""

    name = "scripted-model"

    def __init__(self, turns: Sequence[TurnSpec]) -> None:
        self.turns = list(turns)

    def next_step(self, transcript: Any, tools: Any, context: Any) -> ReasonerStep:
        from agent.graph.messages import ToolCall
        from agent.policy.grounding import StructuredAnswer
        from agent.reasoners.base import ReasonerStep

        turns = list(transcript)
        index = sum(1 for t in turns if t.role == "user") - 1
        spec = self.turns[index] if 0 <= index < len(self.turns) else None
        opening = bool(turns) and turns[-1].role == "user"
        if spec is not None and opening:
            calls = [
                ToolCall(id=call_id(index, n, c), name=c.tool, args=call_args(c))
                for n, c in enumerate(spec.model_calls or [])
            ]
            # reports once: asked again after a report-only step, the model answers
            reports = list(spec.model_reports or []) if context.stated_purpose is None else []
            if calls or reports:
                return ReasonerStep(tool_calls=calls, text=spec.model_interim, stated_purposes=reports)
        if spec is not None and spec.model_text is not None:
            claims = spec.model_claims or []
            structured = StructuredAnswer.model_validate({"text": spec.model_text, "claims": claims})
            return ReasonerStep(text=spec.model_text, structured=structured if claims else None)
        last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=0)
        since_user = [t for t in turns[last_user:] if t.outcome]
        said = "; ".join(
            f"{t.outcome.tool}: {t.outcome.status}" + (f" ({t.outcome.decision.rule_id})" if t.outcome.decision else "")
            for t in since_user
        )
        return ReasonerStep(text=said or "No tool was called.")
