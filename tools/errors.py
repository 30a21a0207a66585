"""facegate's one error hierarchy.

Every error facegate raises on purpose derives from :class:`FacegateError`. Each class carries a stable
``code`` (used by the CLI's one-line messages, ``--json`` output and the audit log) and an ``exit_code``
for the CLI. Vendor errors (DeepFace, google-genai, sqlite3) are translated into these once, at their
adapters, with ``raise ... from exc``.

Families defined here (what a face engine needs):
- ``UserError``: the caller (operator, SDK user, CLI arguments, settings) asked for something invalid.
- ``ImageInputError``: an image could not be accepted; one subclass per kind of bad input.
- ``FaceError``: the image was fine but holds no usable face.
- ``ModelError``: a face model or detector cannot run here (weights missing, backend missing).
- ``ProvenanceError``: the provenance (C2PA) check cannot run here.

The agent's families (policy, store, reasoner, evaluation) live in :mod:`agent.errors` and subclass the same
base: one hierarchy, one set of stable codes and exit codes, and a ground floor that knows nothing of agents.
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


class ImageUnreadable(ImageInputError):
    """The file exists but cannot be read: no permission, not a regular file (a folder, a FIFO, a device), or an
    I/O error."""

    code = "image_unreadable"


class ImageChanged(ImageInputError):
    """The file vanished, or changed size or content, while it was being opened or read; try again."""

    code = "image_changed"


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
    """Exactly one face was required and the image holds several (``details["faces"]``: how many)."""

    code = "multiple_faces"


class FaceNotSingledOut(FaceError):
    """An image holds several faces and not exactly one of them matches the reference it was to be singled out
    by (``details["faces_seen"]``, ``details["matching"]``)."""

    code = "face_not_singled_out"


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


# --- provenance --------------------------------------------------------------------------------------


class ProvenanceError(FacegateError):
    """The provenance (C2PA) check cannot run here. A manifest that fails validation is not an error: it is a
    report (state ``invalid``) that policy refuses."""

    code = "provenance_error"
    exit_code = 12


class ProvenanceUnavailable(ProvenanceError):
    """The optional extra ``facegate[provenance]`` is not installed, and the check was required."""

    code = "provenance_unavailable"
