"""What an answer may say about an image's provenance: exactly what was checked, never more.

A valid signature says who signed and that the bytes did not change since; it does not say the picture is true.
A liveness assertion says that a signer asserted liveness; facegate did not observe it. So the words are
"signed by X, unmodified since signing" and "liveness asserted by X", never "authentic" or "the person is live".
"""

from __future__ import annotations

from tools.provenance.models import ProvenanceReport


def provenance_statement(report: ProvenanceReport | None) -> str:
    """One sentence fragment about the image's provenance, for answers (e.g. "signed by Door camera 7 (Acme
    Capture), a trusted signer; unmodified since signing; declared a digital capture")."""
    if report is None or report.state == "not_checked":
        why = f" ({report.detail})" if report is not None and report.detail else ""
        return f"provenance not checked{why}"
    if report.state == "absent":
        return "no C2PA provenance manifest"
    if report.state == "invalid":
        codes = f" ({', '.join(report.validation_codes)})" if report.validation_codes else ""
        return f"C2PA manifest does not validate: changed after signing or damaged{codes}"
    signer = report.signer.display if report.signer else "an unnamed signer"
    trust = "a trusted signer" if report.state == "trusted" else "a signer not among the configured trust anchors"
    parts = [f"signed by {signer}, {trust}", "unmodified since signing"]
    if report.generated:
        parts.append(f"declared generated ({', '.join(report.source_types)})")
    elif report.composited:
        parts.append("declared composited")
    elif report.digital_source_type:
        parts.append(f"declared {_source_words(report.digital_source_type)}")
    if report.actions and any(a not in ("c2pa.created", "c2pa.opened") for a in report.actions):
        edits = [a.removeprefix("c2pa.") for a in report.actions if a not in ("c2pa.created", "c2pa.opened")]
        parts.append(f"recorded actions: {', '.join(edits)}")
    return "; ".join(parts)


def liveness_statement(report: ProvenanceReport | None) -> str | None:
    """``"liveness asserted by <signer> (<method>)"`` when a trusted manifest carries a passing liveness
    assertion; None otherwise. It reports an attestation, not an observation."""
    if report is None or report.state != "trusted" or report.liveness is None or report.liveness.result != "pass":
        return None
    signer = report.signer.display if report.signer else "an unnamed signer"
    return f"liveness asserted by {signer} ({report.liveness.method})"


def _source_words(source_type: str) -> str:
    words = {
        "digitalCapture": "a digital capture",
        "computationalCapture": "a computational capture",
        "negativeFilm": "a scan of a film negative",
        "positiveFilm": "a scan of a film positive",
        "print": "a scan of a print",
        "screenCapture": "a screen capture",
        "minorHumanEdits": "a capture with minor human edits",
        "humanEdits": "a capture with human edits",
    }
    return words.get(source_type, source_type)
