"""Policy: the purpose catalogue, the tool catalogue, the rule table and the pure ``decide()``.

Imports neither the face engine nor the database: consents are passed in.
"""

from agent.policy.capabilities import CONSENTABLE, Capability, DataCategory
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
    StatedPurpose,
)
from agent.policy.rules import RULES, RULES_BY_ID, Rule
from agent.policy.subject_id import SUBJECT_ID_PATTERN, SubjectId, check_subject_id, is_subject_id
from agent.policy.tool_specs import SHARE_TOOL, TOOL_SPECS, ToolArgs, ToolSpec, tool_spec

__all__ = [
    "CONSENTABLE",
    "ENROLL_TOOL",
    "RULES",
    "RULES_BY_ID",
    "SHARE_TOOL",
    "SUBJECT_ID_PATTERN",
    "TOOL_SPECS",
    "Capability",
    "ConsentRecord",
    "DataCategory",
    "Decision",
    "Evidence",
    "ImageRef",
    "MissingConsent",
    "Obligation",
    "Policy",
    "PolicyRequest",
    "Purpose",
    "Rule",
    "StatedPurpose",
    "SubjectId",
    "ToolArgs",
    "ToolSpec",
    "check_subject_id",
    "decide",
    "is_subject_id",
    "load_policy",
    "normalise_attribute",
    "parse_policy",
    "tool_spec",
]
