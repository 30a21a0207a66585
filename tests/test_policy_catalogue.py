"""The purpose catalogue file: the shipped default, its hash, and one-line errors for bad files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.policy import Capability, load_policy
from agent.policy.catalogue import default_policy_bytes
from tools.errors import ConfigError


def test_default_policy_content() -> None:
    policy = load_policy()
    assert policy.hash == hashlib.sha256(default_policy_bytes()).hexdigest()
    ac = policy.purposes["access_control"]
    assert ac.high_risk and ac.human_review and ac.verification_threshold_factor == 0.857 and ac.context == "security"
    assert ac.allowed_capabilities == {Capability.FACE_VERIFICATION, Capability.ENROLLMENT}
    assert policy.purposes["workplace_safety"].medical_or_safety
    assert policy.purposes["education_engagement"].context == "education"
    assert {"race", "religion", "sexual_orientation", "health", "disability"} <= policy.sensitive_attributes
    assert all(p.retention_days > 0 for p in policy.purposes.values())


def test_hash_follows_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(default_policy_bytes() + b"\n# a comment\n")
    changed = load_policy(path)
    assert changed.hash != load_policy().hash and changed.purposes == load_policy().purposes
    assert changed.source == str(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "version: x\nsensitive_attributes: [race]\npurposes:\n  p:\n    description: d\n    context: moon\n"
            "    allowed_capabilities: [face_verification]\n    retention_days: 1\n",
            "context",
        ),
        (
            "version: x\nsensitive_attributes: [race]\npurposes:\n  p:\n    description: d\n    context: commercial\n"
            "    allowed_capabilities: [mind_reading]\n    retention_days: 1\n",
            "allowed_capabilities",
        ),
        (
            "version: x\nsensitive_attributes: [race]\npurposes:\n  p:\n    description: d\n    context: commercial\n"
            "    allowed_capabilities: [face_verification]\n    retention_days: 0\n",
            "retention_days",
        ),
        (
            "version: x\nsensitive_attributes: [race]\npurposes:\n  p:\n    description: d\n    context: commercial\n"
            "    allowed_capabilities: [face_verification]\n    retention_days: 1\n    colour: blue\n",
            "colour",
        ),
        ("version: x\nsensitive_attributes: [race]\npurposes: {}\n", "purposes"),
        ("version: [unclosed\n", "YAML"),
    ],
)
def test_invalid_policy_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_policy(path)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_a_policy_variant_is_validated_like_a_file_and_has_its_own_hash() -> None:
    from agent.policy.catalogue import policy_with

    shipped = load_policy()
    variant = policy_with({"access_control": {"require_liveness": "always"},
                           "fitting_room": {"copy_of": "ux_research", "description": "try-on mirror"}})  # fmt: skip
    assert variant.hash != shipped.hash
    assert variant.purposes["access_control"].require_liveness == "always"
    assert variant.purposes["fitting_room"].allowed_capabilities == shipped.purposes["ux_research"].allowed_capabilities
    assert set(shipped.purposes) < set(variant.purposes)
    with pytest.raises(ConfigError, match="no purpose 'nope' to copy"):
        policy_with({"x": {"copy_of": "nope"}})
    with pytest.raises(ConfigError, match="require_liveness"):
        policy_with({"access_control": {"require_liveness": "sometimes"}})
