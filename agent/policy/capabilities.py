"""What a person can consent to, and the kinds of data a tool touches: the vocabulary policy decides in."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    """What a person can consent to (and a few things no one can)."""

    FACE_VERIFICATION = "face_verification"
    EXPRESSION_ANALYSIS = "expression_analysis"
    ENROLLMENT = "enrollment"  # storing a face template
    LLM_IMAGE_SHARING = "llm_image_sharing"  # sending a face image to the LLM (a disclosure, BIPA 15(d))
    # Never consentable; declared so that a request for them is decided and audited, not silently ignored.
    IDENTIFICATION = "identification"  # one-to-many search (AI Act Art. 5(1)(h))
    ATTRIBUTE_INFERENCE = "attribute_inference"  # race, religion, health, ... (AI Act Art. 5(1)(g))
    # Reading the consent registry about a subject: no biometric processing.
    CONSENT_LOOKUP = "consent_lookup"


CONSENTABLE: frozenset[Capability] = frozenset(
    {
        Capability.FACE_VERIFICATION,
        Capability.EXPRESSION_ANALYSIS,
        Capability.ENROLLMENT,
        Capability.LLM_IMAGE_SHARING,
    }
)


class DataCategory(StrEnum):
    FACE_IMAGE = "face_image"
    FACE_TEMPLATE = "face_template"
    EXPRESSION = "expression"
    CONSENT_RECORD = "consent_record"
    SENSITIVE_TRAIT = "sensitive_trait"
