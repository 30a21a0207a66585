"""A scenario's scripted model, played through Gemini's real SDK: the fake server answers from the scenario.

:class:`evals.scripted_model.ScriptedModel` plays a scenario's ``model_calls``, ``model_interim``,
``model_text``, ``model_claims`` and ``model_reports`` directly; :func:`responder` plays the same script over HTTP
as Gemini would send it (function calls with their ids, ``report_stated_purpose``, the structured ``final_answer``)
to a :class:`tests.fake_gemini.FakeGemini`, so that the evaluation exercises the Gemini reasoner's parsing, the
structured-output path and the guards together.
"""

from __future__ import annotations

import json
from typing import Any

from evals.agent_eval import Scenario
from evals.scripted_model import call_args, call_id
from tests import fake_gemini as fg


def _user_texts(body: dict[str, Any]) -> int:
    """How many of the person's messages the request holds (markers such as "[image ...]" are not messages)."""
    return sum(
        1
        for content in body.get("contents", [])
        if content.get("role") == "user"
        for part in content.get("parts", [])
        if isinstance(part.get("text"), str) and not part["text"].startswith("[")
    )


def _opening(body: dict[str, Any]) -> bool:
    """Nothing came back yet in this turn: no tool result (or malformed-call note) after the person's message."""
    opening = False
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            text = part.get("text")
            if content.get("role") == "user" and isinstance(text, str) and not text.startswith("["):
                opening = True
            elif "functionResponse" in part or (isinstance(text, str) and text.startswith("[your function call")):
                opening = False
    return opening


def _summary(body: dict[str, Any]) -> str:
    last = (body.get("contents") or [{}])[-1]
    said = []
    for part in last.get("parts", []):
        if isinstance(part.get("text"), str) and part["text"].startswith("[your function call"):
            said.append("a function call was not usable")
        response = part.get("functionResponse")
        if response:
            decision = response.get("response", {}).get("policy_decision") or {}
            rule = f" ({decision['rule_id']})" if decision.get("rule_id") else ""
            said.append(f"{response.get('name')}: {response.get('response', {}).get('status')}{rule}")
    return "; ".join(said) or "No tool was called."


def responder(scenario: Scenario) -> Any:
    """What the fake server answers, request by request, for ``scenario``."""

    def respond(body: dict[str, Any]) -> fg.Scripted:
        index = _user_texts(body) - 1
        spec = scenario.turns[index] if 0 <= index < len(scenario.turns) else None
        blocked = "Stated purpose:" in json.dumps(body.get("systemInstruction", {}))
        if spec is not None and _opening(body):
            calls: list[tuple[str, dict[str, Any], str]] = [
                (c.tool, call_args(c), call_id(index, n, c)) for n, c in enumerate(spec.model_calls or [])
            ]
            reports = [] if blocked else [("report_stated_purpose", {"purpose_text": r}, f"r{index}-{n}")
                                          for n, r in enumerate(spec.model_reports or [])]  # fmt: skip
            if calls or reports:
                return fg.function_calls(*reports, *calls, text_before=spec.model_interim)
        if spec is not None and spec.model_text is not None:
            return fg.final_answer(spec.model_text, *(spec.model_claims or []))
        return fg.final_answer(_summary(body))

    return respond
