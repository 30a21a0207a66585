"""Gemini as the reasoner, through the google-genai SDK.

The graph owns the loop: the SDK's automatic function calling is off and its own retries are disabled, so
tenacity here owns retrying (429, 5xx, timeouts; exponential backoff with jitter, ``Retry-After`` respected,
bounded by settings). Other failures are translated once into facegate's ``Reasoner*`` errors. Function
declarations are generated from the tools' argument models; descriptions and the system prompt come from
``prompts/``. A face image is attached only for handles policy allowed to share (``llm_image_sharing``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

import prompts
from agent.errors import (
    ReasonerError,
    ReasonerRateLimited,
    ReasonerRequestRejected,
    ReasonerTimeout,
    ReasonerUnavailable,
)
from agent.graph.messages import ToolCall, ToolOutcome, Turn, Usage
from agent.logging import get_logger
from agent.policy import ToolSpec
from agent.policy.grounding import StructuredAnswer
from agent.policy.stated_purpose import mismatch_reason
from agent.reasoners.base import ReasonerContext, ReasonerStep

if TYPE_CHECKING:
    from google import genai
    from google.genai import types as gtypes
    from tenacity import RetryCallState

    from agent.settings import Settings

log = get_logger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


# Two functions that are not tools: they never reach the policy node or run anything. ``final_answer`` is how the
# model answers (structured output: prose plus the claims it makes, each citing the tool call it rests on; Gemini
# refuses a JSON response schema together with function calling, so the answer is a function's arguments and
# function calling is forced); ``report_stated_purpose`` is how it reports a use the person stated, for policy to
# decide (it can only stop tools, never change the purpose).
FINAL_ANSWER = "final_answer"
REPORT_PURPOSE = "report_stated_purpose"
MAX_REPORT = 500  # characters of a report read


class _PurposeReport(BaseModel):
    purpose_text: str = Field(description="What the person said the use of this conversation now is, in few words.")


def function_declarations(tools: Sequence[ToolSpec]) -> list[gtypes.FunctionDeclaration]:
    """One declaration per tool, its parameters the JSON schema of the tool's argument model, then the two
    answer functions (``final_answer``, ``report_stated_purpose``)."""
    from google.genai import types as gtypes

    texts: dict[str, str] = prompts.data("tools.yaml") or {}
    schemas: list[tuple[str, str, type[BaseModel]]] = [(t.name, t.description, t.args_model) for t in tools]
    schemas += [
        (FINAL_ANSWER, "Give the answer to the person.", StructuredAnswer),
        (REPORT_PURPOSE, "Report a use of this conversation the person stated.", _PurposeReport),
    ]
    return [
        gtypes.FunctionDeclaration(
            name=name,
            description=texts.get(name, description),
            parameters_json_schema=_clean_schema(model.model_json_schema()),
        )
        for name, description, model in schemas
    ]


def _clean_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def system_prompt(context: ReasonerContext) -> str:
    images = "\n".join(f"- {i.handle}: {i.label}" for i in context.images) or "- (none yet)"
    text = prompts.text("system.md").format(
        purpose=context.purpose,
        purpose_description=context.purpose_description or "(no description)",
        images=images,
    )
    if context.stated_purpose is not None:
        text += "\n" + prompts.text("stated_purpose.md").format(
            reason=mismatch_reason(context.stated_purpose, context.purpose)
        )
    return text


class GeminiReasoner:
    """Reasoner backed by ``client.models.generate_content``.

    Args:
        client: a ``google.genai.Client`` (built with the SDK's own retries off).
        model: model name (a setting).
        max_retries: retries after the first attempt for 429, 5xx and timeouts.
        max_backoff_s: cap on any single wait, including a server's ``Retry-After``.
        initial_backoff_s: first exponential wait (tests use a small one).
    """

    name = "gemini"

    def __init__(
        self,
        client: genai.Client,
        *,
        model: str,
        max_retries: int = 4,
        max_backoff_s: float = 30.0,
        initial_backoff_s: float = 0.5,
    ) -> None:
        self.client = client
        self.model = model
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self.initial_backoff_s = initial_backoff_s
        self.usage = Usage()  # summed over this reasoner's life
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GeminiReasoner:
        from google import genai
        from google.genai import types as gtypes

        if settings.gemini_api_key is None:
            from agent.errors import ConfigError

            raise ConfigError("the Gemini reasoner needs GEMINI_API_KEY (or FACEGATE_GEMINI_API_KEY)")
        http = gtypes.HttpOptions(
            base_url=settings.gemini_base_url,
            timeout=int(settings.gemini_timeout_s * 1000),
            retry_options=gtypes.HttpRetryOptions(attempts=1),  # tenacity here owns retrying
        )
        client = genai.Client(api_key=settings.gemini_api_key.get_secret_value(), http_options=http)
        return cls(
            client,
            model=settings.gemini_model,
            max_retries=settings.gemini_max_retries,
            max_backoff_s=settings.gemini_max_backoff_s,
            **overrides,
        )

    # --- the Reasoner interface -----------------------------------------------------------------------

    def next_step(
        self, transcript: Sequence[Turn], tools: Sequence[ToolSpec], context: ReasonerContext
    ) -> ReasonerStep:
        from google.genai import types as gtypes

        config = gtypes.GenerateContentConfig(
            system_instruction=system_prompt(context),
            tools=[gtypes.Tool(function_declarations=function_declarations(tools))],
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
            # every reply is a function call: a tool, or the structured final answer (see FINAL_ANSWER)
            tool_config=gtypes.ToolConfig(
                function_calling_config=gtypes.FunctionCallingConfig(mode=gtypes.FunctionCallingConfigMode.ANY)
            ),
        )
        contents = build_contents(transcript, context)
        response = self._generate(contents, config)
        return self._step(response)

    # --- request ----------------------------------------------------------------------------------------

    def _generate(self, contents: list[gtypes.Content], config: gtypes.GenerateContentConfig) -> Any:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.calls += 1
                    return self.client.models.generate_content(model=self.model, contents=contents, config=config)
        except Exception as exc:
            raise _translate(exc) from exc
        raise ReasonerUnavailable("no attempt was made")  # pragma: no cover - Retrying always attempts

    def _wait(self, state: RetryCallState) -> float:
        from tenacity import wait_exponential_jitter

        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc)
        if after is not None:
            return min(after, self.max_backoff_s)
        wait = wait_exponential_jitter(
            initial=self.initial_backoff_s, max=self.max_backoff_s, jitter=self.initial_backoff_s
        )
        return float(wait(state))

    # --- response ---------------------------------------------------------------------------------------

    def _step(self, response: Any) -> ReasonerStep:
        usage = _usage(response)
        self.usage = self.usage + usage
        log.info("reasoner.usage", model=self.model, **usage.model_dump())
        candidates = response.candidates or []
        if not candidates:
            feedback = getattr(response, "prompt_feedback", None)
            reason = getattr(feedback, "block_reason", None)
            raise ReasonerRequestRejected(f"Gemini returned no answer (block reason: {reason})")
        cand = candidates[0]
        finish = str(getattr(cand, "finish_reason", "") or "")
        parts = (cand.content.parts if cand.content else None) or []
        texts: list[str] = []
        calls: list[ToolCall] = []
        answers: list[Any] = []
        reports: list[str] = []
        for i, part in enumerate(parts):
            if getattr(part, "thought", None):
                continue
            if part.function_call is not None:
                fc = part.function_call
                args = fc.args if isinstance(fc.args, dict) else {}
                if fc.name == FINAL_ANSWER:
                    answers.append(args)
                elif fc.name == REPORT_PURPOSE:
                    reports.append(str(args.get("purpose_text", ""))[:MAX_REPORT])
                else:
                    calls.append(ToolCall(id=fc.id or f"g{self.calls}-{i}", name=fc.name or "", args=dict(args)))
            elif part.text:
                texts.append(part.text)
        text = "".join(texts).strip() or None
        if "MALFORMED_FUNCTION_CALL" in finish or "UNEXPECTED_TOOL_CALL" in finish:
            message = getattr(cand, "finish_message", None) or finish
            return ReasonerStep(
                text=text, tool_calls=calls, usage=usage, malformed=str(message), stated_purposes=reports
            )
        structured = None
        if answers and not calls:  # an answer given together with tool calls would come before their results
            structured, text = _structured(answers[-1], text)
        if not calls and text is None and not reports:
            raise ReasonerRequestRejected(f"Gemini returned an empty answer (finish reason: {finish or 'none'})")
        return ReasonerStep(text=text, tool_calls=calls, usage=usage, structured=structured, stated_purposes=reports)


def _structured(args: Any, text: str | None) -> tuple[StructuredAnswer | None, str | None]:
    """The final answer's arguments as a :class:`StructuredAnswer`; when they do not validate, their ``text``
    alone (checked as prose by the grounding guard, claims and all), or the plain text the model wrote."""
    try:
        answer = StructuredAnswer.model_validate(args)
    except ValidationError:
        prose = args.get("text") if isinstance(args, dict) else None
        return None, prose if isinstance(prose, str) and prose.strip() else text
    return answer, answer.text or text


# --- transcript -> contents -----------------------------------------------------------------------------


def build_contents(transcript: Sequence[Turn], context: ReasonerContext) -> list[gtypes.Content]:
    """Gemini contents for the transcript: function calls and responses paired; malformed calls as text."""
    from google.genai import types as gtypes

    status = {t.outcome.call_id: t.outcome.status for t in transcript if t.role == "tool" and t.outcome}
    contents: list[gtypes.Content] = []

    def add(role: str, parts: list[gtypes.Part]) -> None:
        if not parts:
            return
        if contents and contents[-1].role == role:
            contents[-1].parts = [*(contents[-1].parts or []), *parts]
        else:
            contents.append(gtypes.Content(role=role, parts=parts))

    for turn in transcript:
        if turn.role == "user":
            text = turn.text or ""
            if turn.images:
                listed = ", ".join(f"{i.handle} = {i.label}" for i in turn.images)
                text += f"\n[images attached: {listed}]"
            add("user", [gtypes.Part(text=text)])
        elif turn.role == "assistant":
            parts: list[gtypes.Part] = []
            if turn.text:
                parts.append(gtypes.Part(text=turn.text))
            for call in turn.tool_calls:
                if status.get(call.id) == "malformed":
                    continue  # said in text with its outcome: undeclared names must not enter the history
                parts.append(gtypes.Part(function_call=gtypes.FunctionCall(name=call.name, args=call.args)))
            add("model", parts)
        elif turn.outcome is not None:
            add("user", [_outcome_part(turn.outcome)])
    images: list[gtypes.Part] = []
    for handle in context.shared:
        data = context.shared_image(handle)
        if data is None:
            continue
        label = next((i.label for i in context.images if i.handle == handle), "?")
        images.append(gtypes.Part(text=f"[image {handle} ({label}), shared with policy's permission]"))
        images.append(gtypes.Part.from_bytes(data=data, mime_type="image/jpeg"))
    add("user", images)
    return contents


def _outcome_part(outcome: ToolOutcome) -> gtypes.Part:
    from google.genai import types as gtypes

    if outcome.status == "malformed":
        return gtypes.Part(
            text=f"[your function call {outcome.tool!r} was not usable: {outcome.error}. "
            "Use only the declared functions with valid arguments.]"
        )
    body: dict[str, Any] = {"call_id": outcome.call_id, "status": outcome.status}  # what final_answer claims cite
    if outcome.decision is not None:
        body["policy_decision"] = {
            "outcome": outcome.decision.outcome,
            "rule_id": outcome.decision.rule_id,
            "reason": outcome.decision.reason,
        }
        if outcome.decision.missing:
            body["policy_decision"]["missing_consent"] = [m.model_dump(mode="json") for m in outcome.decision.missing]
    if outcome.result is not None:
        body["result"] = outcome.result.model_dump(mode="json")
    if outcome.error_code:
        body["error"] = {"code": outcome.error_code, "message": outcome.error}
    if outcome.human_review:
        body["human_review_required"] = True
    if outcome.probe_dropped:
        body["probe_dropped"] = True
    # Round-trip through JSON: the response must be plain data.
    return gtypes.Part(
        function_response=gtypes.FunctionResponse(name=outcome.tool, response=json.loads(json.dumps(body)))
    )


# --- errors ---------------------------------------------------------------------------------------------


def _http_classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` (e.g. "TimeoutException") from httpx and, when the SDK uses it, its fork httpx2."""
    import importlib

    found: list[type[BaseException]] = []
    for module in ("httpx", "httpx2"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (*_http_classes("TimeoutException"), TimeoutError))


def _is_transport(exc: BaseException) -> bool:
    return isinstance(exc, _http_classes("TransportError"))


def _retryable(exc: BaseException) -> bool:
    from google.genai import errors as gerrors

    if isinstance(exc, gerrors.APIError):
        return exc.code in _RETRY_STATUS
    return _is_timeout(exc) or _is_transport(exc)


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _translate(exc: BaseException) -> ReasonerError:
    from google.genai import errors as gerrors

    if isinstance(exc, ReasonerError):
        return exc
    if isinstance(exc, gerrors.APIError):
        detail = exc.message or exc.status or ""
        if exc.code == 429:
            return ReasonerRateLimited(f"Gemini kept rate-limiting (429): {detail}", status=exc.code)
        if exc.code in (408,) or exc.code >= 500:
            return ReasonerUnavailable(f"Gemini kept failing ({exc.code}): {detail}", status=exc.code)
        return ReasonerRequestRejected(f"Gemini refused the request ({exc.code}): {detail}", status=exc.code)
    if _is_timeout(exc):
        return ReasonerTimeout("Gemini did not answer in time")
    if _is_transport(exc):
        return ReasonerUnavailable(f"Gemini could not be reached: {type(exc).__name__}")
    return ReasonerRequestRejected(f"Gemini's answer could not be used: {type(exc).__name__}: {exc}")


def _usage(response: Any) -> Usage:
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return Usage()
    return Usage(
        prompt_tokens=int(getattr(meta, "prompt_token_count", 0) or 0),
        output_tokens=int(getattr(meta, "candidates_token_count", 0) or 0),
        total_tokens=int(getattr(meta, "total_token_count", 0) or 0),
    )
