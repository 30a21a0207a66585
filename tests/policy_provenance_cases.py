"""Rule-table rows for the provenance and liveness rules (joined into tests/test_policy_rules.py's CASES).

The reports here are built by hand, so each row isolates one thing the rules look at; tests/test_provenance.py
runs the real C2PA reader and the real ``decide()`` on signed images.
"""

from __future__ import annotations

import hashlib
from typing import Any

from agent.policy import ImageRef, Policy
from agent.policy.models import NonceStatus, Requirement
from tests.policy_cases import POLICY, Case, consent, img, request
from tools.provenance.models import LivenessAssertion, ProvenanceReport, ProvenanceState, SignerInfo

FV, EXPR, ENR, LLM = "face_verification", "expression_analysis", "enrollment", "llm_image_sharing"
NONCE = "n0nce-fresh-0123456789abcdef"


def with_requirements(purpose: str, *, trusted: Requirement, liveness: Requirement, name: str) -> Policy:
    """The shipped catalogue with one purpose's provenance requirements changed (a policy file an operator
    might write)."""
    changed = POLICY.purposes[purpose].model_copy(
        update={"require_trusted_capture": trusted, "require_liveness": liveness}
    )
    return POLICY.model_copy(
        update={
            "purposes": {**POLICY.purposes, purpose: changed},
            "hash": hashlib.sha256(f"{POLICY.hash}:{name}".encode()).hexdigest(),
            "source": f"tests:{name}",
        }
    )


# access_control needing liveness when anchors are configured (and, as shipped, a trusted capture)
WHEN = "when_anchors_configured"
LIVE = with_requirements("access_control", trusted=WHEN, liveness=WHEN, name="live")
# access_control needing a trusted capture always, anchors or not
STRICT = with_requirements("access_control", trusted="always", liveness="never", name="strict")


def report(
    state: ProvenanceState = "trusted",
    *,
    source_types: tuple[str, ...] = ("digitalCapture",),
    generated: bool = False,
    composited: bool = False,
    live: str | None = None,
    liveness_problem: str | None = None,
    codes: tuple[str, ...] = (),
) -> ProvenanceReport:
    """A hand-built report; ``live`` = "pass" or "fail" adds a liveness assertion carrying NONCE."""
    signed = state in ("trusted", "untrusted")
    return ProvenanceReport(
        state=state,
        image_sha256="ab" * 32,
        source_types=source_types if signed else (),
        digital_source_type=source_types[0] if signed and source_types else None,
        generated=generated,
        composited=composited,
        signer=SignerInfo(common_name="Door camera 7", organization="Acme Capture") if signed else None,
        validation_codes=codes,
        liveness=LivenessAssertion(version=1, nonce=NONCE, result=live, method="acme-passive 2")  # type: ignore[arg-type]
        if live
        else None,
        liveness_problem=liveness_problem,
        trust_anchors_configured=True,
    )


def pimg(
    subject: str | None, prov: ProvenanceReport | None, nonce: NonceStatus | None = None, handle: str | None = None
) -> ImageRef:
    return img(subject, handle).model_copy(update={"provenance": prov, "liveness_nonce": nonce})


def claim(prov: ProvenanceReport | None, nonce: NonceStatus | None = None, **kw: Any) -> Any:
    """verify_identity of a probe against alice's access-control template, anchors configured."""
    kw.setdefault("trust_anchors_configured", True)
    return request(
        "verify_identity",
        FV,
        "access_control",
        [pimg(None, prov, nonce)],
        claimed_subject="alice",
        claimed_subject_enrolled=True,
        **kw,
    )


cs_both = [consent("alice", [FV], ["customer_service"]), consent("bob", [FV], ["customer_service"])]
ac_alice = [consent("alice", [FV, ENR], ["access_control"])]
TAMPERED = report("invalid", codes=("assertion.dataHash.mismatch",))
GENERATED = report(source_types=("trainedAlgorithmicMedia",), generated=True)
COMPOSITED = report(source_types=("digitalCapture", "compositeWithTrainedAlgorithmicMedia"), composited=True)


def verify_cs(a: ProvenanceReport | None, b: ProvenanceReport | None = None) -> Any:
    return request("verify_faces", FV, "customer_service", [pimg("alice", a), pimg("bob", b)])


PROVENANCE_CASES: list[Case] = [
    # provenance.tampered: every face tool, whatever the consent
    Case("provenance.tampered", "verify_faces", verify_cs(TAMPERED), cs_both, "deny", "provenance.tampered"),
    Case(
        "provenance.tampered",
        "expression analysis",
        request("analyze_expression", EXPR, "ux_research", [pimg("alice", TAMPERED)]),
        [consent("alice", [EXPR], ["ux_research"])],
        "deny",
        "provenance.tampered",
    ),
    Case(
        "provenance.tampered",
        "sharing with the assistant",
        request("share_image_with_assistant", LLM, "customer_service", [pimg("alice", TAMPERED)]),
        [consent("alice", [LLM], ["customer_service"])],
        "deny",
        "provenance.tampered",
    ),
    Case(
        "provenance.tampered",
        "enrollment",
        request("enroll", ENR, "customer_service", [pimg("alice", TAMPERED)], subject="alice"),
        [consent("alice", [ENR], ["customer_service"])],
        "deny",
        "provenance.tampered",
    ),
    Case("provenance.tampered", "probe of a claim", claim(TAMPERED), ac_alice, "deny", "provenance.tampered"),
    Case("provenance.tampered", "before consent", verify_cs(None, TAMPERED), [], "deny", "provenance.tampered"),
    Case(
        "provenance.tampered", "untrusted but valid", verify_cs(report("untrusted")), cs_both, "allow", "consent.active"
    ),
    Case("provenance.tampered", "no manifest", verify_cs(report("absent")), cs_both, "allow", "consent.active"),
    Case("provenance.tampered", "not checked", verify_cs(None, None), cs_both, "allow", "consent.active"),
    # provenance.synthetic_or_composite: verification and enrollment
    Case(
        "provenance.synthetic_or_composite",
        "generated face",
        verify_cs(GENERATED),
        cs_both,
        "deny",
        "provenance.synthetic_or_composite",
    ),
    Case(
        "provenance.synthetic_or_composite",
        "composited probe",
        claim(COMPOSITED, "fresh"),
        ac_alice,
        "deny",
        "provenance.synthetic_or_composite",
    ),
    Case(
        "provenance.synthetic_or_composite",
        "generated enrollment image",
        request("enroll", ENR, "customer_service", [pimg("alice", GENERATED)], subject="alice"),
        [consent("alice", [ENR], ["customer_service"])],
        "deny",
        "provenance.synthetic_or_composite",
    ),
    Case(
        "provenance.synthetic_or_composite",
        "untrusted generator still declares it",
        verify_cs(report("untrusted", source_types=("trainedAlgorithmicMedia",), generated=True)),
        cs_both,
        "deny",
        "provenance.synthetic_or_composite",
    ),
    Case(
        "provenance.synthetic_or_composite",
        "expression analysis of a generated face is not identity",
        request("analyze_expression", EXPR, "ux_research", [pimg("alice", GENERATED)]),
        [consent("alice", [EXPR], ["ux_research"])],
        "allow",
        "consent.active",
    ),
    Case(
        "provenance.synthetic_or_composite",
        "edited capture",
        verify_cs(report(source_types=("digitalCapture",))),
        cs_both,
        "allow",
        "consent.active",
    ),
    # provenance.trusted_capture_required: access_control and mfa when anchors are configured
    Case(
        "provenance.trusted_capture_required",
        "no manifest, anchors configured",
        claim(report("absent")),
        ac_alice,
        "deny",
        "provenance.trusted_capture_required",
    ),
    Case(
        "provenance.trusted_capture_required",
        "untrusted signer",
        claim(report("untrusted")),
        ac_alice,
        "deny",
        "provenance.trusted_capture_required",
    ),
    Case(
        "provenance.trusted_capture_required",
        "not checked",
        claim(None),
        ac_alice,
        "deny",
        "provenance.trusted_capture_required",
    ),
    Case(
        "provenance.trusted_capture_required",
        "mfa enrollment without a manifest",
        request(
            "enroll", ENR, "mfa", [pimg("alice", report("absent"))], subject="alice", trust_anchors_configured=True
        ),
        [consent("alice", [ENR], ["mfa"])],
        "deny",
        "provenance.trusted_capture_required",
    ),
    Case(
        "provenance.trusted_capture_required",
        "trusted capture",
        claim(report()),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"human_review": True, "spend_liveness_nonce": None},
    ),
    Case(
        "provenance.trusted_capture_required",
        "no anchors configured: not required",
        claim(report("absent"), trust_anchors_configured=False),
        ac_alice,
        "allow",
        "highrisk.obligations",
    ),
    Case(
        "provenance.trusted_capture_required",
        "customer service does not require it",
        request(
            "verify_faces",
            FV,
            "customer_service",
            [pimg("alice", report("absent")), pimg("bob", None)],
            trust_anchors_configured=True,
        ),
        cs_both,
        "allow",
        "consent.active",
    ),
    Case(
        "provenance.trusted_capture_required",
        "'always' needs anchors to be met",
        claim(report("untrusted"), trust_anchors_configured=False),
        ac_alice,
        "deny",
        "provenance.trusted_capture_required",
        policy=STRICT,
    ),
    # liveness.attestation_required (policy LIVE: access_control requires liveness when anchors are configured)
    *[
        Case(
            "liveness.attestation_required",
            name,
            claim(prov, nonce),
            ac_alice,
            "deny",
            "liveness.attestation_required",
            policy=LIVE,
        )
        for name, prov, nonce in [
            ("trusted capture without the assertion", report(), None),
            ("liveness asserted as failed", report(live="fail"), "fresh"),
            ("foreign nonce", report(live="pass"), "unknown"),
            ("expired nonce", report(live="pass"), "expired"),
            ("nonce for another purpose or person", report(live="pass"), "mismatch"),
            ("nonce never looked up", report(live="pass"), None),
            ("malformed assertion", report(liveness_problem="org.facegate.liveness is malformed at nonce"), None),
        ]
    ],
    Case(
        "liveness.attestation_required",
        "fresh nonce in a trusted capture: spend it",
        claim(report(live="pass"), "fresh"),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"spend_liveness_nonce": NONCE, "do_not_retain_probe": True},
        policy=LIVE,
    ),
    Case(
        "liveness.attestation_required",
        "untrusted signer's assertion: the capture requirement refuses first",
        claim(report("untrusted", live="pass"), "fresh"),
        ac_alice,
        "deny",
        "provenance.trusted_capture_required",
        policy=LIVE,
    ),
    Case(
        "liveness.attestation_required",
        "one of two images attested",
        request(
            "verify_faces",
            FV,
            "access_control",
            [pimg("alice", report(live="pass"), "fresh"), pimg("alice", report(), None, "img_id_photo")],
            trust_anchors_configured=True,
        ),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"spend_liveness_nonce": NONCE},
        policy=LIVE,
    ),
    Case(
        "liveness.attestation_required",
        "enrollment does not need liveness",
        request(
            "enroll", ENR, "access_control", [pimg("alice", report())], subject="alice", trust_anchors_configured=True
        ),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"spend_liveness_nonce": None},
        policy=LIVE,
    ),
    Case(
        "liveness.attestation_required",
        "no anchors configured: not required",
        claim(report("absent"), trust_anchors_configured=False),
        ac_alice,
        "allow",
        "highrisk.obligations",
        policy=LIVE,
    ),
    # liveness.nonce_replayed
    Case(
        "liveness.nonce_replayed",
        "spent nonce",
        claim(report(live="pass"), "spent"),
        ac_alice,
        "deny",
        "liveness.nonce_replayed",
        policy=LIVE,
    ),
    Case(
        "liveness.nonce_replayed",
        "a replay is refused before consent is asked",
        claim(report(live="pass"), "spent"),
        [],
        "deny",
        "liveness.nonce_replayed",
        policy=LIVE,
    ),
    Case(
        "liveness.nonce_replayed",
        "one replayed image among two",
        request(
            "verify_faces",
            FV,
            "access_control",
            [pimg("alice", report(live="pass"), "fresh"), pimg("alice", report(live="pass"), "spent", "img_again")],
            trust_anchors_configured=True,
        ),
        ac_alice,
        "deny",
        "liveness.nonce_replayed",
        policy=LIVE,
    ),
    Case(
        "liveness.nonce_replayed",
        "fresh nonce",
        claim(report(live="pass"), "fresh"),
        ac_alice,
        "allow",
        "highrisk.obligations",
        policy=LIVE,
    ),
    Case(
        "liveness.nonce_replayed",
        "purpose without liveness: nothing to spend",
        claim(report(live="pass"), "spent"),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"spend_liveness_nonce": None},
    ),
]
