"""The rule table: every rule id :func:`agent.policy.decide` can return, with its legal anchor.

Rule ids are stable (tests, audit rows and evaluations refer to them); add new ones, never rename.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    outcome: Literal["allow", "deny", "needs_consent"]
    anchor: str
    description: str


CONSENT_ACTIVE = "consent.active"
CONSENT_MISSING = "consent.missing"
CONSENT_EXPIRED = "consent.expired"
CONSENT_REVOKED = "consent.revoked"
CONSENT_INCOMPLETE = "consent.incomplete"
PURPOSE_UNKNOWN = "purpose.unknown"
PURPOSE_CAPABILITY_NOT_ALLOWED = "purpose.capability_not_allowed"
DISCLOSURE_LLM_IMAGE = "disclosure.llm_image"
EXPRESSION_WORKPLACE_EDUCATION = "expression.workplace_education"
EXPRESSION_NOTICE_REQUIRED = "expression.notice_required"
INFERENCE_SENSITIVE_PROHIBITED = "inference.sensitive_prohibited"
INFERENCE_NOT_OFFERED = "inference.not_offered"
IDENTIFICATION_PROHIBITED = "identification.one_to_many_prohibited"
PROBE_REQUIRES_CLAIMED_IDENTITY = "probe.requires_claimed_enrolled_identity"
PROBE_NO_CONSENTING_SUBJECT = "probe.no_consenting_subject"
HIGHRISK_OBLIGATIONS = "highrisk.obligations"
CONSENT_LOOKUP_ALLOWED = "consent_lookup.allowed"
CONSENT_LOOKUP_NO_FACE = "consent_lookup.no_face"
TOOL_NOT_RUNNABLE = "tool.not_runnable"
TOOL_UNKNOWN = "tool.unknown"
TOOL_CAPABILITY_MISMATCH = "tool.capability_mismatch"
TOOL_INVALID_ARGUMENTS = "tool.invalid_arguments"
PROVENANCE_TAMPERED = "provenance.tampered"
PROVENANCE_SYNTHETIC = "provenance.synthetic_or_composite"
PROVENANCE_UNTRUSTED = "provenance.trusted_capture_required"
LIVENESS_REQUIRED = "liveness.attestation_required"
LIVENESS_REPLAYED = "liveness.nonce_replayed"
PURPOSE_CONVERSATION_MISMATCH = "purpose.conversation_mismatch"
CONSENT_LOOKUP_NOT_PICTURED = "consent_lookup.not_pictured"
BYSTANDERS_NOT_SINGLED_OUT = "bystanders.not_singled_out"
ACCESS_ROLE_NOT_PERMITTED = "access.role_not_permitted"

RULES: tuple[Rule, ...] = (
    Rule(
        id=CONSENT_ACTIVE,
        outcome="allow",
        anchor="GDPR Art. 9(2)(a); BIPA 15(b)",
        description="Every person pictured has an active, unexpired, complete consent for this capability and purpose.",
    ),
    Rule(
        id=CONSENT_MISSING,
        outcome="needs_consent",
        anchor="GDPR Art. 9(2)(a); BIPA 15(b)",
        description="No consent covers this person, capability and purpose; record one and the run resumes.",
    ),
    Rule(
        id=CONSENT_EXPIRED,
        outcome="needs_consent",
        anchor="GDPR Art. 9(2)(a), Art. 5(1)(e); BIPA 15(b)(3)",
        description="The consent that covered this use ran out (its written term ended).",
    ),
    Rule(
        id=CONSENT_REVOKED,
        outcome="deny",
        anchor="GDPR Art. 7(3)",
        description="The person withdrew consent; it takes effect at once, also inside a running conversation.",
    ),
    Rule(
        id=CONSENT_INCOMPLETE,
        outcome="needs_consent",
        anchor="BIPA 15(b); GDPR Art. 7(1)",
        description="A record lacking notice, purpose, term or evidence does not count as consent.",
    ),
    Rule(
        id=PURPOSE_UNKNOWN,
        outcome="deny",
        anchor="GDPR Art. 5(1)(b)",
        description="The purpose is not in the purpose catalogue.",
    ),
    Rule(
        id=PURPOSE_CAPABILITY_NOT_ALLOWED,
        outcome="deny",
        anchor="GDPR Art. 5(1)(b), Art. 5(1)(c)",
        description="The capability is not allowed for this purpose (purpose limitation).",
    ),
    Rule(
        id=DISCLOSURE_LLM_IMAGE,
        outcome="needs_consent",
        anchor="BIPA 15(d); GDPR Art. 9(2)(a)",
        description="Sending a face image to the LLM is a disclosure that needs its own consent.",
    ),
    Rule(
        id=EXPRESSION_WORKPLACE_EDUCATION,
        outcome="deny",
        anchor="EU AI Act Art. 5(1)(f)",
        description="Emotion recognition is prohibited at the workplace and in education, unless for "
        "medical or safety reasons.",
    ),
    Rule(
        id=EXPRESSION_NOTICE_REQUIRED,
        outcome="needs_consent",
        anchor="EU AI Act Art. 50(3)",
        description="Expression analysis needs a notice recorded on the consent that covers it; the "
        "notice is an obligation of every allow.",
    ),
    Rule(
        id=INFERENCE_SENSITIVE_PROHIBITED,
        outcome="deny",
        anchor="EU AI Act Art. 5(1)(g); GDPR Art. 9(1)",
        description="No inference of race, ethnicity, religion, political opinion, sexual orientation, "
        "health or disability, whatever the consent.",
    ),
    Rule(
        id=INFERENCE_NOT_OFFERED,
        outcome="deny",
        anchor="GDPR Art. 5(1)(c)",
        description="facegate does not infer personal attributes (age, gender, ...) from faces.",
    ),
    Rule(
        id=IDENTIFICATION_PROHIBITED,
        outcome="deny",
        anchor="EU AI Act Art. 5(1)(h), Art. 5(1)(e)",
        description="No one-to-many identification; facegate only verifies one-to-one.",
    ),
    Rule(
        id=PROBE_REQUIRES_CLAIMED_IDENTITY,
        outcome="deny",
        anchor="GDPR Art. 9(2)(a), Art. 5(1)(b), Art. 5(1)(c); BIPA 15(b)",
        description="A probe of an unregistered person may only be verified one-to-one against a claimed, "
        "enrolled identity whose consent covers the purpose, using a template enrolled for that purpose (or "
        "one the person also consented to enrollment for); the probe is not retained.",
    ),
    Rule(
        id=PROBE_NO_CONSENTING_SUBJECT,
        outcome="deny",
        anchor="GDPR Art. 9(2)(a); BIPA 15(b)",
        description="The face belongs to no registered, consenting person (a probe with no claimed identity).",
    ),
    Rule(
        id=HIGHRISK_OBLIGATIONS,
        outcome="allow",
        anchor="EU AI Act Art. 14, Art. 26; GDPR Art. 35",
        description="High-risk purposes are allowed with obligations: a stricter threshold and human review.",
    ),
    Rule(
        id=CONSENT_LOOKUP_ALLOWED,
        outcome="allow",
        anchor="GDPR Art. 7(1), Art. 15",
        description="Reading the consent registry about a subject processes no biometric data; only the "
        "records covering the session's purpose are shown.",
    ),
    Rule(
        id=CONSENT_LOOKUP_NO_FACE,
        outcome="deny",
        anchor="GDPR Art. 5(1)(c)",
        description="A consent lookup names a subject id; it never takes a face.",
    ),
    Rule(
        id=TOOL_NOT_RUNNABLE,
        outcome="deny",
        anchor="facegate scope",
        description="The tool is declared only so that it can be refused; there is no implementation.",
    ),
    Rule(
        id=TOOL_UNKNOWN,
        outcome="deny",
        anchor="facegate scope",
        description="No such tool.",
    ),
    Rule(
        id=TOOL_CAPABILITY_MISMATCH,
        outcome="deny",
        anchor="facegate scope",
        description="The request's capability is not the one the tool declares.",
    ),
    Rule(
        id=PROVENANCE_TAMPERED,
        outcome="deny",
        anchor="GDPR Art. 5(1)(d), Art. 32; EU AI Act Art. 15(5)",
        description="An image whose C2PA manifest does not validate (changed after signing, or damaged) is "
        "refused for every face tool, whatever the consent.",
    ),
    Rule(
        id=PROVENANCE_SYNTHETIC,
        outcome="deny",
        anchor="GDPR Art. 5(1)(d); EU AI Act Art. 15(5), Art. 50(2)",
        description="An image whose manifest declares it generated (e.g. trainedAlgorithmicMedia) or composited "
        "is refused for face verification and enrollment.",
    ),
    Rule(
        id=PROVENANCE_UNTRUSTED,
        outcome="deny",
        anchor="EU AI Act Art. 15(5); GDPR Art. 32",
        description="The purpose requires every face image to be a capture signed by a trusted signer (one that "
        "chains to the operator's trust anchors), unmodified since signing.",
    ),
    Rule(
        id=LIVENESS_REQUIRED,
        outcome="deny",
        anchor="EU AI Act Art. 15(5); GDPR Art. 32",
        description="The purpose requires verification on an image whose trusted manifest carries a passing "
        "liveness assertion bound to a fresh nonce facegate issued for this purpose (facegate capture nonce).",
    ),
    Rule(
        id=LIVENESS_REPLAYED,
        outcome="deny",
        anchor="EU AI Act Art. 15(5); GDPR Art. 32",
        description="The liveness nonce in the image was already used: a capture can be presented once.",
    ),
    Rule(
        id=PURPOSE_CONVERSATION_MISMATCH,
        outcome="deny",
        anchor="GDPR Art. 5(1)(b); BIPA 15(b)(2)",
        description="The person said in the conversation that the use is now something other than the session's "
        'purpose ("this is for our marketing campaign now"): no tool runs in that conversation any more. The '
        "purpose is never changed; a new conversation started for the stated purpose is the way on.",
    ),
    Rule(
        id=CONSENT_LOOKUP_NOT_PICTURED,
        outcome="deny",
        anchor="GDPR Art. 5(1)(c), Art. 9",
        description="A consent lookup tells the assistant only whether the people pictured in this conversation's "
        "images are covered for its purpose; it says nothing about anyone else on record.",
    ),
)

GRAPH_NO_ALLOW_DECISION = "graph.no_allow_decision"
ANSWER_UNGROUNDED_CLAIM = "answer.ungrounded_claim"  # == agent.policy.grounding.RULE_ID
ANSWER_INNER_STATE_CLAIM = "answer.inner_state_claim"  # == agent.policy.inner_state.RULE_ID

# Rules the graph enforces around decide(): a call that cannot be put to policy at all, and the tools node's
# own check that what it runs was allowed. They appear in audit rows and answers like decide()'s.
GRAPH_RULES: tuple[Rule, ...] = (
    Rule(
        id=TOOL_INVALID_ARGUMENTS,
        outcome="deny",
        anchor="facegate scope",
        description="The model's call does not validate against the tool's schema or names an image that is "
        "not registered; nothing runs and the model is told why.",
    ),
    Rule(
        id=GRAPH_NO_ALLOW_DECISION,
        outcome="deny",
        anchor="facegate invariant 1",
        description="The tools node runs only a call that carries an allow decision made for that exact call id.",
    ),
    Rule(
        id=ANSWER_UNGROUNDED_CLAIM,
        outcome="deny",
        anchor="GDPR Art. 5(1)(d); EU AI Act Art. 13, 14",
        description="An answer stated a face result (verified, match, access granted, a distance, a threshold, an "
        "expression score, who is pictured) that no tool outcome of the turn supports, or one that contradicts "
        "them: the answer is replaced by the result as facegate renders it from the typed outcomes.",
    ),
    Rule(
        id=ANSWER_INNER_STATE_CLAIM,
        outcome="deny",
        anchor="EU AI Act Art. 5(1)(f), Art. 50(3)",
        description="An answer claimed what a person feels or whether they tell the truth; expression results "
        "describe appearance only, so the claim is rewritten to appearance wording with the caveat.",
    ),
)

# Rules enforced at run time, once the engine has looked at the pixels: how many faces an image shows is known
# only after detection, so decide() cannot know it up front (agent/policy/bystanders.py).
RUNTIME_RULES: tuple[Rule, ...] = (
    Rule(
        id=BYSTANDERS_NOT_SINGLED_OUT,
        outcome="deny",
        anchor="GDPR Art. 9(2)(a), Art. 5(1)(c); BIPA 15(b)",
        description="The image shows several faces and consent covers only the labelled person's: her face must "
        "be singled out by her enrolled template (exactly one face matching it, with her consent to face "
        "verification for the purpose), and only that face is analysed and reported; otherwise nothing is, and "
        "the refusal says how many faces were seen. Sharing such an image with the assistant is refused.",
    ),
)

# Rules a network door enforces before a call reaches policy: what the caller's API key may do (the MCP server
# over HTTP; agent/mcp/http.py). decide() never sees the key: purpose and consent do not depend on who asks.
ACCESS_RULES: tuple[Rule, ...] = (
    Rule(
        id=ACCESS_ROLE_NOT_PERMITTED,
        outcome="deny",
        anchor="GDPR Art. 5(1)(f), Art. 32",
        description="Only an operator key may call a tool over a network door; an auditor key may list the tools "
        "and read the audit log, and runs nothing.",
    ),
)

ALL_RULES: tuple[Rule, ...] = RULES + GRAPH_RULES + RUNTIME_RULES + ACCESS_RULES

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
