"""What the provenance check reports about one image: pure pydantic models, no C2PA library.

The policy package imports these (a report travels on :class:`agent.policy.ImageRef`), so this module must stay
light: pydantic only. Nothing here holds pixels: a C2PA manifest can carry thumbnails, and they are never copied
into a report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProvenanceState = Literal["not_checked", "absent", "untrusted", "trusted", "invalid"]
"""- ``not_checked``: the check did not run (the optional extra is not installed, or there were no original bytes).
- ``absent``: no C2PA manifest in the image (or one in a place facegate does not look: a remote URL, a format the
  reader does not support). Stripping a manifest gives this state: absence proves nothing either way.
- ``untrusted``: a manifest whose signature and hard binding validate, by a signer whose certificate does not chain
  to a configured trust anchor (or no anchors are configured).
- ``trusted``: the same, and the signer chains to one of the operator's trust anchors.
- ``invalid``: a manifest that does not validate: the image or the manifest changed after signing, or is damaged.
"""

LIVENESS_LABEL = "org.facegate.liveness"
"""The label of facegate's liveness assertion in a C2PA manifest (see :class:`LivenessAssertion`)."""

IPTC_SOURCE_TYPE_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), by what they mean for a face check.
# Synthetic: the picture is not a capture of a scene at all.
SYNTHETIC_SOURCE_TYPES: frozenset[str] = frozenset(
    {"trainedAlgorithmicMedia", "algorithmicMedia", "dataDrivenMedia", "digitalArt"}
)
# Composite: pieces put together; a face may be pasted in (compositeCapture included: a splice of two real
# captures is how a face swap without AI is made).
COMPOSITE_SOURCE_TYPES: frozenset[str] = frozenset(
    {"compositeWithTrainedAlgorithmicMedia", "compositeSynthetic", "composite", "compositeCapture"}
)
# c2pa.placed: an ingredient was placed into the image (compositing), whatever source type is declared.
COMPOSITING_ACTIONS: frozenset[str] = frozenset({"c2pa.placed"})


def short_source_type(uri: str) -> str:
    """``http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture`` -> ``digitalCapture``; other URIs as given."""
    return uri.removeprefix(IPTC_SOURCE_TYPE_PREFIX).removeprefix("https://cv.iptc.org/newscodes/digitalsourcetype/")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SignerInfo(_Frozen):
    """Who signed the manifest, from the signing certificate's subject."""

    common_name: str | None = None
    organization: str | None = None
    algorithm: str | None = None
    signed_at: datetime | None = None  # from a time-stamp authority, when the signer used one

    @property
    def display(self) -> str:
        """``Door camera 7 (Acme Capture)``: the common name and organisation, whichever are known."""
        if self.common_name and self.organization and self.organization != self.common_name:
            return f"{self.common_name} ({self.organization})"
        return self.common_name or self.organization or "an unnamed signer"


class LivenessAssertion(BaseModel):
    """The capture app's liveness attestation, as it must appear in the manifest under :data:`LIVENESS_LABEL`.

    JSON shape (the assertion's ``data``)::

        {"version": 1, "nonce": "<from facegate capture nonce>", "result": "pass",
         "method": "<the app's liveness method, e.g. 'acme-passive-2.3'>",
         "score": 0.98, "checked_at": "2026-12-01T09:30:00Z"}

    ``score`` and ``checked_at`` are optional; other keys are ignored. facegate does not judge the method: it
    checks that a trusted signer asserted it, for this image, against a nonce facegate issued.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Literal[1]
    nonce: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    result: Literal["pass", "fail"]
    method: str = Field(min_length=1, max_length=200)
    score: float | None = Field(default=None, ge=0, le=1)
    checked_at: datetime | None = None

    @field_validator("method")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the liveness method")
        return value.strip()


class ProvenanceReport(_Frozen):
    """The provenance of one image, read from its raw bytes before decoding. No pixels, no thumbnails.

    ``generated`` and ``composited`` look at every manifest in the image's store (its history, ingredients
    included), so an edit re-signed on top of a generated picture is still generated. ``liveness`` is read from
    the active manifest only: that is the one whose hard binding covers these exact bytes.
    """

    state: ProvenanceState
    image_sha256: str
    format: str | None = None  # MIME type sniffed from the bytes
    manifest_label: str | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None  # of the capture: the c2pa.created action, following parents
    source_types: tuple[str, ...] = ()  # every digital source type declared anywhere in the store
    actions: tuple[str, ...] = ()  # the active manifest's actions, in order (c2pa.created, c2pa.edited, ...)
    generated: bool = False
    composited: bool = False
    signer: SignerInfo | None = None
    validation_codes: tuple[str, ...] = ()  # failures reported by the reader, and facegate's own (facegate.*)
    liveness: LivenessAssertion | None = None
    liveness_problem: str | None = None  # an assertion under LIVENESS_LABEL that is not the shape above
    ingredients: int = 0
    trust_anchors_configured: bool = False
    detail: str | None = None  # why not checked / absent / invalid, in words
    elapsed_ms: float = 0.0

    @property
    def checked(self) -> bool:
        return self.state != "not_checked"

    @property
    def trusted(self) -> bool:
        return self.state == "trusted"

    @property
    def tampered(self) -> bool:
        return self.state == "invalid"

    @property
    def synthetic_or_composite(self) -> bool:
        return self.generated or self.composited

    def summary(self) -> dict[str, object]:
        """A compact, JSON-safe summary for audit rows and agent state (no timings, nothing biometric)."""
        out: dict[str, object] = {"state": self.state}
        if self.signer is not None:
            out["signer"] = self.signer.display
        if self.digital_source_type:
            out["digital_source_type"] = self.digital_source_type
        if self.actions:
            out["actions"] = list(self.actions)
        if self.generated:
            out["generated"] = True
        if self.composited:
            out["composited"] = True
        if self.validation_codes:
            out["validation_codes"] = list(self.validation_codes)
        if self.liveness is not None:
            out["liveness"] = {"result": self.liveness.result, "method": self.liveness.method}
        if self.liveness_problem:
            out["liveness_problem"] = self.liveness_problem
        return out
