"""Table-driven tests of ``decide()``: every rule with cases where it decides and cases where it must not."""

from __future__ import annotations

from collections import Counter

import pytest

from agent.policy import RULES, PolicyRequest, StatedPurpose, decide
from tests.policy_cases import NOW, POLICY, Case, consent, days, img, request
from tests.policy_provenance_cases import PROVENANCE_CASES

FV, EXPR, ENR, LLM = "face_verification", "expression_analysis", "enrollment", "llm_image_sharing"


both = [consent("alice", [FV], ["customer_service"]), consent("bob", [FV], ["customer_service"])]
verify_ab = request("verify_faces", FV, "customer_service", [img("alice"), img("bob")])
expr_alice = request("analyze_expression", EXPR, "ux_research", [img("alice")])
share_alice = request("share_image_with_assistant", LLM, "customer_service", [img("alice")])
claim_alice = request(
    "verify_identity", FV, "access_control", [img(None)], claimed_subject="alice", claimed_subject_enrolled=True
)
ac_alice = [consent("alice", [FV, ENR], ["access_control"])]


def claim_cs(template_purpose: str) -> PolicyRequest:
    """verify_identity of alice for customer service, against a template enrolled for ``template_purpose``."""
    return request(
        "verify_identity",
        FV,
        "customer_service",
        [img(None)],
        claimed_subject="alice",
        claimed_subject_enrolled=True,
        claimed_template_purpose=template_purpose,
    )


CASES: list[Case] = [
    # consent.active (GDPR 9(2)(a))
    Case("consent.active", "both pictured consented", verify_ab, both, "allow", "consent.active"),
    Case(
        "consent.active",
        "one of two lacks consent",
        verify_ab,
        both[:1],
        "needs_consent",
        "consent.missing",
        missing=("bob",),
    ),
    Case(
        "consent.active",
        "consent for another purpose",
        verify_ab,
        [consent("alice", [FV], ["personalised_service"]), both[1]],
        "needs_consent",
        "consent.missing",
        missing=("alice",),
    ),
    Case(
        "consent.active",
        "consent for another capability",
        verify_ab,
        [consent("alice", [ENR], ["customer_service"]), both[1]],
        "needs_consent",
        "consent.missing",
        missing=("alice",),
    ),
    Case(
        "consent.active",
        "granted in the future",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], granted=NOW + days(1)), both[1]],
        "needs_consent",
        "consent.missing",
    ),
    # consent.missing
    Case(
        "consent.missing",
        "nobody consented",
        verify_ab,
        [],
        "needs_consent",
        "consent.missing",
        missing=("alice", "bob"),
    ),
    Case(
        "consent.missing",
        "other people's consents do not count",
        verify_ab,
        [consent("carol", [FV], ["customer_service"])],
        "needs_consent",
        "consent.missing",
    ),
    Case("consent.missing", "present consent allows", verify_ab, both, "allow", "consent.active"),
    # consent.expired
    Case(
        "consent.expired",
        "term ended",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], expires=NOW - days(1)), both[1]],
        "needs_consent",
        "consent.expired",
        missing=("alice",),
    ),
    Case(
        "consent.expired",
        "expires exactly now",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], expires=NOW), both[1]],
        "needs_consent",
        "consent.expired",
    ),
    Case(
        "consent.expired",
        "renewed after expiry",
        verify_ab,
        [
            consent("alice", [FV], ["customer_service"], expires=NOW - days(1)),
            consent("alice", [FV], ["customer_service"], granted=NOW - days(1)),
            both[1],
        ],
        "allow",
        "consent.active",
    ),
    Case(
        "consent.expired",
        "expires tomorrow",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], expires=NOW + days(1)), both[1]],
        "allow",
        "consent.active",
    ),
    # consent.revoked (GDPR 7(3))
    Case(
        "consent.revoked",
        "revoked a second ago",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], revoked=NOW - days(1 / 86400)), both[1]],
        "deny",
        "consent.revoked",
    ),
    Case(
        "consent.revoked",
        "revoked beats someone else's missing",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], revoked=NOW)],
        "deny",
        "consent.revoked",
    ),
    Case(
        "consent.revoked",
        "regranted after revocation",
        verify_ab,
        [
            consent("alice", [FV], ["customer_service"], revoked=NOW - days(2)),
            consent("alice", [FV], ["customer_service"], granted=NOW - days(1)),
            both[1],
        ],
        "allow",
        "consent.active",
    ),
    Case(
        "consent.revoked",
        "revocation of another purpose does not matter",
        verify_ab,
        [consent("alice", [FV], ["mfa"], revoked=NOW - days(1)), *both],
        "allow",
        "consent.active",
    ),
    # consent.incomplete (BIPA 15(b))
    Case(
        "consent.incomplete",
        "no evidence",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], evidence=None), both[1]],
        "needs_consent",
        "consent.incomplete",
        missing=("alice",),
    ),
    Case(
        "consent.incomplete",
        "no term",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], expires=None), both[1]],
        "needs_consent",
        "consent.incomplete",
    ),
    Case(
        "consent.incomplete",
        "no notice",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], notice=None), both[1]],
        "needs_consent",
        "consent.incomplete",
    ),
    Case(
        "consent.incomplete",
        "blank notice",
        verify_ab,
        [consent("alice", [FV], ["customer_service"], notice="   "), both[1]],
        "needs_consent",
        "consent.incomplete",
    ),
    Case(
        "consent.incomplete",
        "no purpose: covers nothing",
        verify_ab,
        [consent("alice", [FV], []), both[1]],
        "needs_consent",
        "consent.missing",
    ),
    Case("consent.incomplete", "complete record", verify_ab, both, "allow", "consent.active"),
    # purpose.unknown (GDPR 5(1)(b))
    Case(
        "purpose.unknown",
        "made-up purpose",
        request("verify_faces", FV, "fun", [img("alice"), img("bob")]),
        [consent("alice", [FV], ["fun"]), consent("bob", [FV], ["fun"])],
        "deny",
        "purpose.unknown",
    ),
    Case("purpose.unknown", "catalogued purpose", verify_ab, both, "allow", "consent.active"),
    Case(
        "purpose.unknown",
        "empty purpose on enrollment",
        request("enroll", ENR, "", [img("alice")], subject="alice"),
        [consent("alice", [ENR], ["customer_service"])],
        "deny",
        "purpose.unknown",
    ),
    Case(
        "expression.notice_required",
        "blank notice",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"], notice=" ")],
        "needs_consent",
        "expression.notice_required",
    ),
    Case(
        "expression.notice_required",
        "no notice and no evidence: simply incomplete",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"], notice=None, evidence=None)],
        "needs_consent",
        "consent.incomplete",
    ),
    # purpose.capability_not_allowed
    Case(
        "purpose.capability_not_allowed",
        "expression for customer service",
        request("analyze_expression", EXPR, "customer_service", [img("alice")]),
        [consent("alice", [EXPR], ["customer_service"])],
        "deny",
        "purpose.capability_not_allowed",
    ),
    Case(
        "purpose.capability_not_allowed",
        "enrollment for ux research",
        request("enroll", ENR, "ux_research", [img("alice")], subject="alice"),
        [consent("alice", [ENR], ["ux_research"])],
        "deny",
        "purpose.capability_not_allowed",
    ),
    Case(
        "purpose.capability_not_allowed",
        "llm sharing for market research",
        request("share_image_with_assistant", LLM, "market_research", [img("alice")]),
        [consent("alice", [LLM], ["market_research"])],
        "deny",
        "purpose.capability_not_allowed",
    ),
    Case(
        "purpose.capability_not_allowed",
        "expression for ux research",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"])],
        "allow",
        "consent.active",
    ),
    # disclosure.llm_image (BIPA 15(d))
    Case(
        "disclosure.llm_image",
        "verification consent is not disclosure consent",
        share_alice,
        [consent("alice", [FV, ENR], ["customer_service"])],
        "needs_consent",
        "disclosure.llm_image",
        missing=("alice",),
    ),
    Case("disclosure.llm_image", "no consent at all", share_alice, [], "needs_consent", "disclosure.llm_image"),
    Case(
        "disclosure.llm_image",
        "probe image",
        request("share_image_with_assistant", LLM, "customer_service", [img(None)]),
        [],
        "deny",
        "probe.no_consenting_subject",
    ),
    Case(
        "disclosure.llm_image",
        "own disclosure consent",
        share_alice,
        [consent("alice", [LLM], ["customer_service"])],
        "allow",
        "consent.active",
    ),
    # expression.workplace_education (AI Act 5(1)(f))
    Case(
        "expression.workplace_education",
        "workplace monitoring, even with consent",
        request("analyze_expression", EXPR, "workplace_monitoring", [img("alice")]),
        [consent("alice", [EXPR], ["workplace_monitoring"])],
        "deny",
        "expression.workplace_education",
    ),
    Case(
        "expression.workplace_education",
        "education engagement",
        request("analyze_expression", EXPR, "education_engagement", [img("alice")]),
        [consent("alice", [EXPR], ["education_engagement"])],
        "deny",
        "expression.workplace_education",
    ),
    Case(
        "expression.workplace_education",
        "workplace safety is a safety purpose",
        request("analyze_expression", EXPR, "workplace_safety", [img("alice")]),
        [consent("alice", [EXPR], ["workplace_safety"])],
        "allow",
        "highrisk.obligations",
        obligations={"human_review": True, "expression_caveat": True},
    ),
    Case(
        "expression.workplace_education",
        "healthcare is medical",
        request("analyze_expression", EXPR, "healthcare", [img("alice")]),
        [consent("alice", [EXPR], ["healthcare"])],
        "allow",
        "highrisk.obligations",
    ),
    Case(
        "expression.workplace_education",
        "face verification at work is not expression analysis",
        request("verify_faces", FV, "workplace_monitoring", [img("alice"), img("bob")]),
        [consent("alice", [FV], ["workplace_monitoring"]), consent("bob", [FV], ["workplace_monitoring"])],
        "allow",
        "highrisk.obligations",
    ),
    # expression.notice_required (AI Act 50(3))
    Case(
        "expression.notice_required",
        "consent without notice",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"], notice=None)],
        "needs_consent",
        "expression.notice_required",
        missing=("alice",),
    ),
    Case(
        "expression.notice_required",
        "notice recorded: obligation to show it",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"], notice="v3: we estimate expressions")],
        "allow",
        "consent.active",
        obligations={"record_notice": "v3: we estimate expressions", "expression_caveat": True},
    ),
    # inference.sensitive_prohibited (AI Act 5(1)(g))
    *[
        Case(
            "inference.sensitive_prohibited",
            f"asks {attrs}",
            request(
                "infer_attributes", "attribute_inference", "ux_research", [img("alice")], requested_attributes=attrs
            ),
            [consent("alice", [EXPR, LLM], ["ux_research"])],
            "deny",
            "inference.sensitive_prohibited",
        )
        for attrs in (
            ["race"],
            ["Ethnic origin"],
            ["age", "religion"],
            ["sexual-orientation"],
            ["health"],
            ["disability"],
            ["political opinion"],
        )
    ],
    Case(
        "inference.sensitive_prohibited",
        "age only is not sensitive but not offered",
        request("infer_attributes", "attribute_inference", "ux_research", [img("alice")], requested_attributes=["age"]),
        [],
        "deny",
        "inference.not_offered",
    ),
    # inference.not_offered
    Case(
        "inference.not_offered",
        "gender",
        request(
            "infer_attributes",
            "attribute_inference",
            "customer_service",
            [img("alice")],
            requested_attributes=["gender"],
        ),
        [consent("alice", [FV], ["customer_service"])],
        "deny",
        "inference.not_offered",
    ),
    Case(
        "inference.not_offered",
        "expression analysis is offered",
        expr_alice,
        [consent("alice", [EXPR], ["ux_research"])],
        "allow",
        "consent.active",
    ),
    # identification.one_to_many_prohibited (AI Act 5(1)(h))
    Case(
        "identification.one_to_many_prohibited",
        "public surveillance",
        request("identify_person", "identification", "public_surveillance", [img(None)]),
        [],
        "deny",
        "identification.one_to_many_prohibited",
    ),
    Case(
        "identification.one_to_many_prohibited",
        "even with every consent",
        request("identify_person", "identification", "access_control", [img("alice")]),
        ac_alice,
        "deny",
        "identification.one_to_many_prohibited",
    ),
    Case(
        "identification.one_to_many_prohibited",
        "one-to-one verification instead",
        claim_alice,
        ac_alice,
        "allow",
        "highrisk.obligations",
    ),
    # probe.requires_claimed_enrolled_identity
    Case(
        "probe.requires_claimed_enrolled_identity",
        "claimed, consenting, enrolled",
        claim_alice,
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"do_not_retain_probe": True},
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "customer service claim",
        request(
            "verify_identity",
            FV,
            "customer_service",
            [img(None)],
            claimed_subject="alice",
            claimed_subject_enrolled=True,
        ),
        [consent("alice", [FV, ENR], ["customer_service"])],
        "allow",
        "consent.active",
        obligations={"do_not_retain_probe": True},
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "not enrolled",
        request("verify_identity", FV, "access_control", [img(None)], claimed_subject="alice"),
        ac_alice,
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "claimed identity without consent",
        claim_alice,
        [],
        "deny",
        "probe.requires_claimed_enrolled_identity",
        missing=("alice",),
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "consent for another purpose",
        claim_alice,
        [consent("alice", [FV, ENR], ["mfa"])],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "no claimed identity",
        request("verify_identity", FV, "access_control", [img(None)]),
        ac_alice,
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    # purpose limitation of templates: a template serves the purpose it was enrolled for, or one the person
    # also consented to enrollment for
    Case(
        "probe.requires_claimed_enrolled_identity",
        "template enrolled for the session purpose",
        claim_cs("customer_service"),
        [consent("alice", [FV], ["customer_service"])],
        "allow",
        "consent.active",
        obligations={"do_not_retain_probe": True},
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "template enrolled for another purpose",
        claim_cs("access_control"),
        [consent("alice", [FV, ENR], ["access_control"]), consent("alice", [FV], ["customer_service"])],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "another purpose, enrollment consent for this one",
        claim_cs("access_control"),
        [consent("alice", [FV, ENR], ["access_control"]), consent("alice", [FV, ENR], ["customer_service"])],
        "allow",
        "consent.active",
        obligations={"do_not_retain_probe": True},
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "another purpose, enrollment consent for this one revoked",
        claim_cs("access_control"),
        [
            consent("alice", [FV], ["customer_service"]),
            consent("alice", [ENR], ["customer_service"], revoked=NOW - days(1)),
        ],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "another purpose, enrollment consent incomplete",
        claim_cs("access_control"),
        [consent("alice", [FV], ["customer_service"]), consent("alice", [ENR], ["customer_service"], evidence=None)],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "template stored without a purpose",
        claim_cs(""),
        [consent("alice", [FV], ["customer_service"])],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "purpose without templates, enrollment consent does not help",
        request(
            "verify_identity",
            FV,
            "healthcare",
            [img(None)],
            claimed_subject="alice",
            claimed_template_purpose="access_control",
        ),
        [consent("alice", [FV, ENR], ["access_control", "healthcare"])],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    # issue 9 item 7: an expired (or incomplete) consent of the claimed identity is renewable by a person present
    Case(
        "consent.expired",
        "claimed identity's consent expired, template still usable",
        claim_alice,
        [consent("alice", [FV, ENR], ["access_control"], expires=NOW - days(1))],
        "needs_consent",
        "consent.expired",
        missing=("alice",),
    ),
    Case(
        "consent.expired",
        "claimed identity's consent expired and its template lapsed with it",
        request("verify_identity", FV, "access_control", [img(None)], claimed_subject="alice"),
        [consent("alice", [FV, ENR], ["access_control"], expires=NOW - days(1))],
        "needs_consent",
        "consent.expired",
        missing=("alice", "alice"),  # face_verification and enrollment: the template must be made again
    ),
    Case(
        "consent.expired",
        "claimed identity renewed after expiry",
        claim_alice,
        [
            consent("alice", [FV, ENR], ["access_control"], expires=NOW - days(1)),
            consent("alice", [FV, ENR], ["access_control"], granted=NOW - days(1)),
        ],
        "allow",
        "highrisk.obligations",
    ),
    Case(
        "consent.incomplete",
        "claimed identity's consent lacks evidence",
        claim_alice,
        [consent("alice", [FV, ENR], ["access_control"], evidence=None)],
        "needs_consent",
        "consent.incomplete",
        missing=("alice",),
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "claimed identity's expired consent covered another purpose only",
        claim_alice,
        [consent("alice", [FV, ENR], ["mfa"], expires=NOW - days(1))],
        "deny",
        "probe.requires_claimed_enrolled_identity",
    ),
    Case(
        "probe.requires_claimed_enrolled_identity",
        "claimed identity revoked",
        claim_alice,
        [consent("alice", [FV, ENR], ["access_control"], revoked=NOW - days(1))],
        "deny",
        "consent.revoked",
    ),
    # probe.no_consenting_subject
    Case(
        "probe.no_consenting_subject",
        "verify_faces with a probe",
        request("verify_faces", FV, "customer_service", [img("alice"), img(None)]),
        both,
        "deny",
        "probe.no_consenting_subject",
    ),
    Case(
        "probe.no_consenting_subject",
        "expression of a probe",
        request("analyze_expression", EXPR, "ux_research", [img(None)]),
        [],
        "deny",
        "probe.no_consenting_subject",
    ),
    Case(
        "probe.no_consenting_subject",
        "enrolling someone else's face",
        request("enroll", ENR, "customer_service", [img("bob")], subject="alice"),
        [consent("alice", [ENR], ["customer_service"]), consent("bob", [ENR], ["customer_service"])],
        "deny",
        "probe.no_consenting_subject",
    ),
    Case(
        "probe.no_consenting_subject",
        "no images at all",
        request("verify_faces", FV, "customer_service", []),
        both,
        "deny",
        "probe.no_consenting_subject",
    ),
    Case(
        "probe.no_consenting_subject",
        "enrolling one's own face",
        request("enroll", ENR, "customer_service", [img("alice")], subject="alice"),
        [consent("alice", [ENR], ["customer_service"])],
        "allow",
        "consent.active",
    ),
    # highrisk.obligations
    Case(
        "highrisk.obligations",
        "access control: threshold + human review",
        request("verify_faces", FV, "access_control", [img("alice"), img("alice", "img2")]),
        ac_alice,
        "allow",
        "highrisk.obligations",
        obligations={"verification_threshold_factor": 0.857, "human_review": True},
    ),
    Case(
        "highrisk.obligations",
        "mfa: threshold, no human review",
        request("verify_faces", FV, "mfa", [img("alice"), img("alice", "img2")]),
        [consent("alice", [FV], ["mfa"])],
        "allow",
        "highrisk.obligations",
        obligations={"verification_threshold_factor": 0.857, "human_review": None},
    ),
    Case(
        "highrisk.obligations",
        "high risk still needs consent",
        request("verify_faces", FV, "access_control", [img("alice"), img("alice", "img2")]),
        [],
        "needs_consent",
        "consent.missing",
    ),
    Case(
        "highrisk.obligations",
        "ordinary purpose carries none",
        verify_ab,
        both,
        "allow",
        "consent.active",
        obligations={"verification_threshold_factor": None, "human_review": None},
    ),
    # consent_lookup.allowed
    Case(
        "consent_lookup.allowed",
        "subject id only, limited to the session purpose",
        request("consent_status", "consent_lookup", "customer_service", subject="alice", pictured_subjects=("alice",)),
        [],
        "allow",
        "consent_lookup.allowed",
        obligations={"limit_to_purpose": "customer_service"},
    ),
    Case(
        "consent_lookup.allowed",
        "another purpose's session sees only its own purpose's records",
        request(
            "consent_status", "consent_lookup", "public_surveillance", subject="alice", pictured_subjects=("alice",)
        ),
        ac_alice,
        "allow",
        "consent_lookup.allowed",
        obligations={"limit_to_purpose": "public_surveillance"},
    ),
    Case(
        "consent_lookup.allowed",
        "no subject named",
        request("consent_status", "consent_lookup", "customer_service"),
        [],
        "deny",
        "consent_lookup.no_face",
    ),
    # consent_lookup.no_face
    Case(
        "consent_lookup.no_face",
        "an image is refused",
        request("consent_status", "consent_lookup", "customer_service", [img("alice")], subject="alice"),
        both,
        "deny",
        "consent_lookup.no_face",
    ),
    Case(
        "consent_lookup.no_face",
        "subject id is fine",
        request("consent_status", "consent_lookup", "anything", subject="bob", pictured_subjects=("bob",)),
        [],
        "allow",
        "consent_lookup.allowed",
    ),
    # consent_lookup.not_pictured (issue 9 item 11: least disclosure)
    Case(
        "consent_lookup.not_pictured",
        "someone not pictured in the conversation",
        request("consent_status", "consent_lookup", "customer_service", subject="bob", pictured_subjects=("alice",)),
        both,
        "deny",
        "consent_lookup.not_pictured",
    ),
    Case(
        "consent_lookup.not_pictured",
        "no image attached at all",
        request("consent_status", "consent_lookup", "customer_service", subject="alice"),
        both,
        "deny",
        "consent_lookup.not_pictured",
    ),
    Case(
        "consent_lookup.not_pictured",
        "the person pictured",
        request("consent_status", "consent_lookup", "customer_service", subject="alice", pictured_subjects=("alice",)),
        both,
        "allow",
        "consent_lookup.allowed",
    ),
    # purpose.conversation_mismatch (issue 9 item 5): a use stated in the conversation that is not the session's
    Case(
        "purpose.conversation_mismatch",
        "the person said it is for marketing now",
        verify_ab.model_copy(update={"stated_purpose": StatedPurpose(label="marketing", purposes=())}),
        both,
        "deny",
        "purpose.conversation_mismatch",
    ),
    Case(
        "purpose.conversation_mismatch",
        "a catalogue purpose other than the session's",
        claim_alice.model_copy(
            update={"stated_purpose": StatedPurpose(label="UX research", purposes=("ux_research",))}
        ),
        ac_alice,
        "deny",
        "purpose.conversation_mismatch",
    ),
    Case(
        "purpose.conversation_mismatch",
        "a model's report of an unrecognised use",
        verify_ab.model_copy(
            update={"stated_purpose": StatedPurpose(label="a use the assistant could not name", source="model")}
        ),
        both,
        "deny",
        "purpose.conversation_mismatch",
    ),
    Case(
        "purpose.conversation_mismatch",
        "consent lookups stop too",
        request(
            "consent_status",
            "consent_lookup",
            "customer_service",
            subject="alice",
            pictured_subjects=("alice",),
            stated_purpose=StatedPurpose(label="marketing"),
        ),
        both,
        "deny",
        "purpose.conversation_mismatch",
    ),
    Case(
        "purpose.conversation_mismatch",
        "restating the session's purpose stops nothing",
        claim_alice.model_copy(
            update={"stated_purpose": StatedPurpose(label="access control", purposes=("access_control",))}
        ),
        ac_alice,
        "allow",
        "highrisk.obligations",
    ),
    Case(
        "purpose.conversation_mismatch",
        "a use that may mean the session's purpose among others",
        claim_alice.model_copy(
            update={"stated_purpose": StatedPurpose(label="authentication", purposes=("mfa", "access_control"))}
        ),
        ac_alice,
        "allow",
        "highrisk.obligations",
    ),
    Case(
        "purpose.conversation_mismatch",
        "prohibitions keep their own rule",
        request(
            "identify_person",
            "identification",
            "customer_service",
            [img("alice")],
            stated_purpose=StatedPurpose(label="marketing"),
        ),
        both,
        "deny",
        "identification.one_to_many_prohibited",
    ),
    # tool.*
    Case(
        "tool.not_runnable",
        "identify_person under another capability",
        request("identify_person", FV, "customer_service", [img("alice")]),
        both,
        "deny",
        "tool.not_runnable",
    ),
    Case("tool.not_runnable", "runnable tool", verify_ab, both, "allow", "consent.active"),
    Case(
        "tool.not_runnable",
        "infer_attributes under another capability",
        request("infer_attributes", EXPR, "ux_research", [img("alice")]),
        [consent("alice", [EXPR], ["ux_research"])],
        "deny",
        "tool.not_runnable",
    ),
    Case(
        "tool.unknown",
        "made-up tool",
        request("delete_everything", FV, "customer_service", [img("alice")]),
        both,
        "deny",
        "tool.unknown",
    ),
    Case("tool.unknown", "known tool", verify_ab, both, "allow", "consent.active"),
    Case(
        "tool.capability_mismatch",
        "verify_faces claiming expression",
        request("verify_faces", EXPR, "ux_research", [img("alice")]),
        [consent("alice", [EXPR], ["ux_research"])],
        "deny",
        "tool.capability_mismatch",
    ),
    Case(
        "tool.capability_mismatch",
        "enroll claiming verification",
        request("enroll", FV, "customer_service", [img("alice")], subject="alice"),
        both,
        "deny",
        "tool.capability_mismatch",
    ),
    Case("tool.capability_mismatch", "matching capability", verify_ab, both, "allow", "consent.active"),
    # provenance.* and liveness.* (C2PA reports passed in on the images): tests/policy_provenance_cases.py
    *PROVENANCE_CASES,
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_table(case: Case) -> None:
    decision = decide(case.req, case.consents, case.policy_or_default, NOW)
    assert (decision.outcome, decision.rule_id) == (case.outcome, case.rule_id), decision.reason
    assert decision.policy_hash == case.policy_or_default.hash
    assert decision.reason
    for kind, value in case.obligations.items():
        found = decision.obligation(kind)  # type: ignore[arg-type]
        assert (found.value if found else None) == value, (kind, decision.obligations)
    if case.missing:
        assert [m.subject_id for m in decision.missing] == list(case.missing)
    if decision.outcome == "needs_consent":
        assert decision.missing, "needs_consent must say which consent would help"
    if decision.outcome != "allow":
        assert not decision.obligations


def test_every_rule_has_deciding_and_non_deciding_cases() -> None:
    """Each rule: some case ends in it, and some case tagged with it ends elsewhere (the other side)."""
    ids = {r.id for r in RULES}
    used = {c.rule_id for c in CASES}
    assert used == ids, (ids - used, used - ids)
    for rule in RULES:
        mine = [c for c in CASES if c.rule == rule.id]
        assert any(c.rule_id != rule.id for c in mine), f"{rule.id} has no case where it must not decide"


def test_rule_outcomes_match_the_table() -> None:
    by_id = {r.id: r for r in RULES}
    for case in CASES:
        assert by_id[case.rule_id].outcome == case.outcome, case.id


def rule_case_counts() -> Counter[str]:
    """How many table cases end in each rule id (used by docs)."""
    return Counter(c.rule_id for c in CASES)


def test_decide_is_deterministic_and_pure() -> None:
    first = [decide(c.req, c.consents, c.policy_or_default, NOW) for c in CASES]
    again = [decide(c.req, list(reversed(c.consents)), c.policy_or_default, NOW) for c in CASES]
    assert [d.model_dump() for d in first] == [d.model_dump() for d in again]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        decide(verify_ab, both, POLICY, NOW.replace(tzinfo=None))


def test_policy_package_imports_no_store_or_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agent.policy; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlite3', 'deepface', 'cv2', 'numpy', 'langgraph')"
        " or m.startswith(('agent.store', 'tools.engine'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_consent_lookup_shows_only_the_session_purposes_records() -> None:
    """Finding D: a session for one purpose must not read (nor pass to the model) another purpose's records."""
    from agent.consent import records_for_purpose

    records = [*ac_alice, consent("alice", [FV], ["customer_service", "mfa"])]
    for purpose, shown in [("public_surveillance", []), ("mfa", records[1:]), ("access_control", records[:1])]:
        ask = request("consent_status", "consent_lookup", purpose, subject="alice", pictured_subjects=("alice",))
        decision = decide(ask, records, POLICY, NOW)
        limit = decision.obligation("limit_to_purpose")
        assert decision.allowed and limit is not None and limit.value == purpose
        assert records_for_purpose(records, str(limit.value)) == shown
