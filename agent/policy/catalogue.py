"""Loading the purpose catalogue and policy file (YAML, validated by pydantic).

The default ships with the package (``agent/policy/default_policy.yaml``). The sha256 of the file's bytes
is the policy hash every decision and audit row carries, so anyone can tell later which policy decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ConfigError
from agent.policy.capabilities import Capability
from agent.policy.models import Policy, Purpose, PurposeContext, Requirement

DEFAULT_POLICY_RESOURCE = "default_policy.yaml"


class _PurposeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    context: PurposeContext
    allowed_capabilities: list[Capability] = Field(min_length=1)
    medical_or_safety: bool = False
    high_risk: bool = False
    retention_days: int = Field(gt=0)
    verification_threshold_factor: float | None = Field(default=None, gt=0, le=1)
    human_review: bool = False
    require_trusted_capture: Requirement = "never"
    require_liveness: Requirement = "never"

    @field_validator("require_trusted_capture", "require_liveness", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # YAML's true/false read as the obvious requirement
        if isinstance(value, bool):
            return "always" if value else "never"
        return value


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1)
    sensitive_attributes: list[str] = Field(min_length=1)
    purposes: dict[str, _PurposeFile] = Field(min_length=1)


def default_policy_bytes() -> bytes:
    return resources.files("agent.policy").joinpath(DEFAULT_POLICY_RESOURCE).read_bytes()


def parse_policy(data: bytes, *, source: str) -> Policy:
    """Validate policy-file bytes into a :class:`Policy`; raises ConfigError naming the problem."""
    import yaml

    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"policy file {source} is not valid YAML: {exc}", source=source) from exc
    try:
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"policy file {source} is invalid at {where}: {first['msg']}", source=source) from exc
    purposes = {
        pid: Purpose(
            id=pid,
            **p.model_dump(exclude={"allowed_capabilities"}),
            allowed_capabilities=frozenset(p.allowed_capabilities),
        )
        for pid, p in parsed.purposes.items()
    }
    return Policy(
        version=parsed.version,
        purposes=purposes,
        sensitive_attributes=frozenset(a.strip().lower() for a in parsed.sensitive_attributes),
        hash=hashlib.sha256(data).hexdigest(),
        source=source,
    )


def load_policy(path: Path | None = None) -> Policy:
    """Load the policy file at ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        return parse_policy(default_policy_bytes(), source="default")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror}", path=str(path)) from exc
    return parse_policy(data, source=str(path))


def policy_with(
    changes: Mapping[str, Mapping[str, Any]], *, base: bytes | None = None, source: str = "default with changes"
) -> Policy:
    """A variant of the shipped policy (or of the policy file ``base``): purposes changed or added.

    ``changes`` maps a purpose id to the fields to set; a new purpose names ``copy_of: <purpose>`` and the fields
    that differ. The variant is written out as YAML and parsed like any policy file, so it is validated the same
    way and its hash is the hash of its own bytes (decisions made under it never claim the shipped policy's).
    Evaluations and tests use it (a scenario that needs liveness, a purpose allowing what none shipped does).

    Raises:
        ConfigError: an unknown ``copy_of``, or a change the policy file's schema refuses.
    """
    import yaml

    raw = yaml.safe_load(base if base is not None else default_policy_bytes())
    for purpose_id, fields in changes.items():
        updates = dict(fields)
        copy_of = updates.pop("copy_of", None)
        if copy_of is not None and copy_of not in raw["purposes"]:
            raise ConfigError(f"policy change for {purpose_id}: no purpose {copy_of!r} to copy", purpose=purpose_id)
        current = dict(raw["purposes"][copy_of] if copy_of is not None else raw["purposes"].get(purpose_id, {}))
        raw["purposes"][purpose_id] = {**current, **updates}
    return parse_policy(yaml.safe_dump(raw, sort_keys=True).encode(), source=source)
