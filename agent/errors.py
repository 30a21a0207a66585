"""The agent's error families, on the one base in :mod:`tools.errors` (one hierarchy, stable codes and exit codes).

The face engine's families (caller mistakes, image input, faces, models) stay on the ground floor with the base;
what only an agent has lives here (``EvalError`` lives with the evaluations, in :mod:`evals.errors`):

- ``PolicyError``: policy refused; never swallowed into text the model can argue with.
- ``StoreError``: the consent/audit database failed or was found tampered with.
- ``ReasonerError``: the LLM backend failed after retries, or answered something unusable.

The base and the engine families are re-exported so that agent code imports every error from one place.
"""

from __future__ import annotations

from typing import Any

from tools.errors import (
    ConfigError,
    CorruptImage,
    EmptyImage,
    EngineError,
    FaceError,
    FacegateError,
    FaceNotFound,
    FaceNotSingledOut,
    ImageChanged,
    ImageInputError,
    ImageNotFound,
    ImageTooLarge,
    ImageUnreadable,
    ModelError,
    ModelUnavailable,
    MultipleFaces,
    NotAnImage,
    NotFoundError,
    PathNotAllowed,
    ProvenanceError,
    ProvenanceUnavailable,
    TemplateMismatch,
    TooManyPixels,
    UnsupportedImageInput,
    URLNotAllowed,
    UserError,
)

# --- policy and consent ------------------------------------------------------------------------------


class PolicyError(FacegateError):
    code = "policy_error"
    exit_code = 6


class PolicyDenied(PolicyError):
    """Policy refused an action. Carries the rule id; never turned into negotiable text."""

    code = "policy_denied"

    def __init__(self, message: str, *, rule_id: str, **details: Any) -> None:
        super().__init__(message, rule_id=rule_id, **details)
        self.rule_id = rule_id


class FacesNotCovered(PolicyDenied):
    """A face tool found faces consent does not cover (bystanders) and could not single out the one it does:
    refused at run time, nothing analysed. ``details``: ``image`` (handle), ``subject``, ``faces_seen``."""

    code = "faces_not_covered"


class ErasedDuringTurn(PolicyError):
    """A person named in this conversation was erased while the turn ran (GDPR Art. 17): the conversation was
    deleted and nothing of the turn was kept. ``details``: ``thread_id``, ``subjects``."""

    code = "erased_during_turn"

    @classmethod
    def of(cls, thread_id: str, subjects: list[str]) -> ErasedDuringTurn:
        who = (
            f"{', '.join(subjects)} {'was' if len(subjects) == 1 else 'were'} erased (GDPR Art. 17)"
            if subjects
            else "the conversation was deleted"
        )
        return cls(
            f"while this turn ran, {who}: conversation {thread_id} was deleted and nothing of this turn was kept",
            thread_id=thread_id,
            subjects=subjects,
        )


class ConsentRequired(PolicyError):
    """No valid consent covers this subject, capability and purpose."""

    code = "consent_required"


class InvalidConsent(PolicyError):
    """A consent record lacks what makes it consent (notice, purpose, term, evidence)."""

    code = "invalid_consent"
    exit_code = 2


class UnknownPurpose(PolicyError):
    code = "unknown_purpose"
    exit_code = 2


class RunInputError(UserError, ValueError):
    """A LangGraph server run's input or consent answer was refused by the graph (the run fails, the thread is
    as it was). Its message starts with the cause's code (``path_not_allowed: ...``). It is a ``ValueError`` too
    because the server shows callers the message of a ``ValueError`` and hides every other exception's."""

    code = "run_input_error"

    @classmethod
    def of(cls, exc: FacegateError) -> RunInputError:
        return cls(f"{exc.code}: {exc.message}", cause=exc.code)


# --- storage -----------------------------------------------------------------------------------------


class StoreError(FacegateError):
    code = "store_error"
    exit_code = 7


class MigrationError(StoreError):
    code = "migration_error"


class AuditIntegrityError(StoreError):
    """The audit chain does not verify."""

    code = "audit_integrity_error"
    exit_code = 8


# --- reasoners ---------------------------------------------------------------------------------------


class ReasonerError(FacegateError):
    code = "reasoner_error"
    exit_code = 9


class ReasonerUnavailable(ReasonerError):
    """The LLM backend could not be reached or kept failing after retries."""

    code = "reasoner_unavailable"


class ReasonerRateLimited(ReasonerUnavailable):
    code = "reasoner_rate_limited"


class ReasonerTimeout(ReasonerUnavailable):
    code = "reasoner_timeout"


class ReasonerRequestRejected(ReasonerError):
    """The backend refused the request (bad key, bad request, safety block)."""

    code = "reasoner_request_rejected"


class MalformedToolCall(ReasonerError):
    """The model asked for a tool that does not exist or with arguments that do not validate."""

    code = "malformed_tool_call"


__all__ = [
    "AuditIntegrityError",
    "ConfigError",
    "ConsentRequired",
    "CorruptImage",
    "EmptyImage",
    "EngineError",
    "ErasedDuringTurn",
    "FaceError",
    "FaceNotFound",
    "FaceNotSingledOut",
    "FacegateError",
    "FacesNotCovered",
    "ImageChanged",
    "ImageInputError",
    "ImageNotFound",
    "ImageTooLarge",
    "ImageUnreadable",
    "InvalidConsent",
    "MalformedToolCall",
    "MigrationError",
    "ModelError",
    "ModelUnavailable",
    "MultipleFaces",
    "NotAnImage",
    "NotFoundError",
    "PathNotAllowed",
    "PolicyDenied",
    "PolicyError",
    "ProvenanceError",
    "ProvenanceUnavailable",
    "ReasonerError",
    "ReasonerRateLimited",
    "ReasonerRequestRejected",
    "ReasonerTimeout",
    "ReasonerUnavailable",
    "RunInputError",
    "StoreError",
    "TemplateMismatch",
    "TooManyPixels",
    "URLNotAllowed",
    "UnknownPurpose",
    "UnsupportedImageInput",
    "UserError",
]
