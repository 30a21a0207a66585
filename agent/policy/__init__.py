"""Policy: the purpose catalogue, the rule table and the pure ``decide()``.

Imports neither the face engine nor the database: consents are passed in.
"""

from agent.policy.catalogue import load_policy, parse_policy
from agent.policy.decide import ENROLL_TOOL, decide, normalise_attribute
from agent.policy.models import (
    ConsentRecord,
    Decision,
    Evidence,
    ImageRef,
    MissingConsent,
    Obligation,
    Policy,
    PolicyRequest,
    Purpose,
)
from agent.policy.rules import RULES, RULES_BY_ID, Rule

__all__ = [
    "ENROLL_TOOL",
    "RULES",
    "RULES_BY_ID",
    "ConsentRecord",
    "Decision",
    "Evidence",
    "ImageRef",
    "MissingConsent",
    "Obligation",
    "Policy",
    "PolicyRequest",
    "Purpose",
    "Rule",
    "decide",
    "load_policy",
    "normalise_attribute",
    "parse_policy",
]
