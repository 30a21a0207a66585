"""Provenance and liveness rules: what ``decide()`` asks of the images' C2PA reports. Pure.

The reports are passed in on each :class:`ImageRef` (``provenance``, and ``liveness_nonce``: what the store said
about the nonce in the liveness assertion). Nothing here reads a file, an image or the nonce store.

Order: a tampered image is refused for every face tool; a generated or composited one for verification and
enrollment; then the purpose's requirements: a trusted capture for every image, and for verification a trusted
liveness attestation with a fresh nonce (a used nonce is a replay, refused under its own rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.policy import rules as R
from agent.policy.capabilities import Capability
from agent.policy.models import Decision, ImageRef, Obligation, PolicyRequest, Purpose
from tools.provenance.models import LIVENESS_LABEL

_Out = Callable[..., Decision]

# Capabilities for which a generated or composited picture is no evidence of who someone is.
_IDENTITY_CAPABILITIES = frozenset({Capability.FACE_VERIFICATION, Capability.ENROLLMENT})


@dataclass(frozen=True)
class ProvenanceVerdict:
    """Either a refusal, or the obligations an allow must carry (the liveness nonces to spend)."""

    refusal: Decision | None = None
    obligations: tuple[Obligation, ...] = ()


def provenance_verdict(request: PolicyRequest, purpose: Purpose, out: _Out) -> ProvenanceVerdict:
    """Check the images' provenance against the rules and the purpose's requirements."""
    images = request.images
    if not images:
        return ProvenanceVerdict()
    tampered = [img for img in images if img.provenance is not None and img.provenance.tampered]
    if tampered:
        details = "; ".join(f"{img.handle}: {_codes(img)}" for img in tampered)
        return ProvenanceVerdict(
            out(
                "deny",
                R.PROVENANCE_TAMPERED,
                f"The C2PA manifest of {_names(tampered)} does not validate: the image or its manifest changed "
                f"after signing, or is damaged ({details}). No face tool runs on it.",
            )
        )
    cap = request.capability
    if cap in _IDENTITY_CAPABILITIES:
        synthetic = [img for img in images if img.provenance is not None and img.provenance.synthetic_or_composite]
        if synthetic:
            kinds = sorted({t for img in synthetic for t in (img.provenance.source_types if img.provenance else ())})
            return ProvenanceVerdict(
                out(
                    "deny",
                    R.PROVENANCE_SYNTHETIC,
                    f"The manifest of {_names(synthetic)} declares a generated or composited picture "
                    f"({', '.join(kinds) or 'placed ingredients'}); it is no evidence of anyone's face for "
                    f"{cap.value}.",
                )
            )
    anchors = request.trust_anchors_configured
    if purpose.requires_trusted_capture(anchors_configured=anchors):
        untrusted = [img for img in images if img.provenance is None or not img.provenance.trusted]
        if untrusted:
            details = "; ".join(f"{img.handle}: {_trust_problem(img)}" for img in untrusted)
            return ProvenanceVerdict(
                out(
                    "deny",
                    R.PROVENANCE_UNTRUSTED,
                    f"{purpose.id} requires every face image to be a capture signed by a trusted signer; {details}.",
                )
            )
    if cap == Capability.FACE_VERIFICATION and purpose.requires_liveness(anchors_configured=anchors):
        return _liveness(images, purpose, out)
    return ProvenanceVerdict()


def _liveness(images: list[ImageRef], purpose: Purpose, out: _Out) -> ProvenanceVerdict:
    replayed = [img for img in images if _asserted(img) and img.liveness_nonce == "spent"]
    if replayed:
        return ProvenanceVerdict(
            out(
                "deny",
                R.LIVENESS_REPLAYED,
                f"The liveness nonce in {_names(replayed)} was already used: each capture can be presented once. "
                "Capture again with a new nonce (facegate capture nonce).",
            )
        )
    problems = {img.handle: _liveness_problem(img) for img in images}
    attested = [img for img in images if problems[img.handle] is None]
    if not attested:
        details = "; ".join(f"{handle}: {problem}" for handle, problem in problems.items())
        return ProvenanceVerdict(
            out(
                "deny",
                R.LIVENESS_REQUIRED,
                f"{purpose.id} requires a liveness attestation: an image whose trusted manifest carries a passing "
                f"{LIVENESS_LABEL} assertion with a fresh nonce issued for {purpose.id}; {details}.",
            )
        )
    return ProvenanceVerdict(
        obligations=tuple(
            Obligation(kind="spend_liveness_nonce", value=img.provenance.liveness.nonce)
            for img in attested
            if img.provenance is not None and img.provenance.liveness is not None
        )
    )


def _asserted(img: ImageRef) -> bool:
    return img.provenance is not None and img.provenance.liveness is not None


def _liveness_problem(img: ImageRef) -> str | None:
    """Why this image does not carry a usable liveness attestation; None when it does."""
    report = img.provenance
    if report is None or report.state == "not_checked":
        return "its provenance was not checked"
    if report.state != "trusted":
        return _trust_problem(img)
    if report.liveness is None:
        return report.liveness_problem or "its manifest carries no liveness assertion"
    if report.liveness.result != "pass":
        return f"the liveness check asserted in it did not pass ({report.liveness.result})"
    return {
        "fresh": None,
        None: "its liveness nonce was not looked up in the store",
        "unknown": "its nonce was not issued by facegate",
        "expired": "its nonce has expired",
        "mismatch": "its nonce was issued for another purpose or person",
        "spent": "its nonce was already used",
    }[img.liveness_nonce]


def _trust_problem(img: ImageRef) -> str:
    report = img.provenance
    if report is None or report.state == "not_checked":
        why = f" ({report.detail})" if report is not None and report.detail else ""
        return f"its provenance was not checked{why}"
    if report.state == "absent":
        return "it carries no C2PA manifest"
    if report.state == "untrusted":
        signer = report.signer.display if report.signer else "an unnamed signer"
        return f"its signer {signer} does not chain to a configured trust anchor"
    if report.state == "invalid":
        return "its manifest does not validate"
    return "it is a trusted capture"


def _codes(img: ImageRef) -> str:
    codes = img.provenance.validation_codes if img.provenance is not None else ()
    return ", ".join(codes) or "invalid"


def _names(images: list[ImageRef]) -> str:
    return ", ".join(img.handle for img in images)
