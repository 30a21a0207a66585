"""facegate's one error hierarchy.

Every error facegate raises on purpose derives from :class:`FacegateError`. Each class carries a stable
``code`` (used by the CLI's one-line messages, ``--json`` output and the audit log) and an ``exit_code``
for the CLI. Vendor errors (DeepFace, google-genai, sqlite3) are translated into these once, at their
adapters, with ``raise ... from exc``.

Families:
- ``UserError``: the caller (operator, SDK user, CLI arguments, settings) asked for something invalid.
- ``ImageInputError``: an image could not be accepted; one subclass per kind of bad input.
- ``FaceError``: the image was fine but holds no usable face.
- ``ModelError``: a face model or detector cannot run here (weights missing, backend missing).
- ``PolicyError``: policy refused; never swallowed into text the model can argue with.
- ``StoreError``: the consent/audit database failed or was found tampered with.
- ``ReasonerError``: the LLM backend failed after retries, or answered something unusable.
- ``EvalError``: an evaluation run's inputs were unusable.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FacegateError(Exception):
    """Base of every error facegate raises on purpose."""

    code: ClassVar[str] = "facegate_error"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description (no pixels, no embeddings: callers put only safe values in details)."""
        return {"error": self.code, "message": self.message, **{k: _safe(v) for k, v in self.details.items()}}


def _safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


# --- caller mistakes ---------------------------------------------------------------------------------


class UserError(FacegateError):
    """The caller asked for something invalid (bad argument, unknown purpose, bad setting)."""

    code = "user_error"
    exit_code = 2


class ConfigError(UserError):
    """Settings or the policy file are invalid."""

    code = "config_error"


class NotFoundError(UserError):
    """A named thing (subject, consent, thread, template, file) does not exist."""

    code = "not_found"


class TemplateMismatch(UserError):
    """A stored template was computed another way (model, detector, detection size, alignment, mirror
    averaging) than the engine computes probes now: the two cannot be compared. ``details["fix"]`` names the
    re-enrol command."""

    code = "template_mismatch"


# --- image input -------------------------------------------------------------------------------------


class ImageInputError(FacegateError):
    """An image could not be accepted."""

    code = "image_input_error"
    exit_code = 3


class ImageNotFound(ImageInputError):
    code = "image_not_found"


class EmptyImage(ImageInputError):
    code = "empty_image"


class NotAnImage(ImageInputError):
    code = "not_an_image"


class CorruptImage(ImageInputError):
    """Truncated or otherwise undecodable image data."""

    code = "corrupt_image"


class ImageTooLarge(ImageInputError):
    """More bytes than the configured limit."""

    code = "image_too_large"


class TooManyPixels(ImageInputError):
    """More pixels than the configured limit (decompression-bomb guard)."""

    code = "too_many_pixels"


class URLNotAllowed(ImageInputError):
    """Images are never fetched from the network on the strength of an input string."""

    code = "url_not_allowed"


class PathNotAllowed(ImageInputError):
    """The path lies outside the folders images may be read from."""

    code = "path_not_allowed"


class UnsupportedImageInput(ImageInputError):
    """The input's Python type or array shape is not one facegate accepts."""

    code = "unsupported_image_input"


# --- faces -------------------------------------------------------------------------------------------


class FaceError(FacegateError):
    code = "face_error"
    exit_code = 4


class FaceNotFound(FaceError):
    code = "face_not_found"


class MultipleFaces(FaceError):
    """Exactly one face was required and the image holds several."""

    code = "multiple_faces"


# --- models ------------------------------------------------------------------------------------------


class ModelError(FacegateError):
    code = "model_error"
    exit_code = 5


class ModelUnavailable(ModelError):
    """Weights or a backend are missing and downloads are not allowed."""

    code = "model_unavailable"


class EngineError(ModelError):
    """DeepFace (or another backend) failed in a way that is not the input's fault."""

    code = "engine_error"


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


# --- evaluation --------------------------------------------------------------------------------------


class EvalError(FacegateError):
    code = "eval_error"
    exit_code = 10
