"""The store: subjects, consents, face templates, nonces and the hash-chained audit log, in SQLite or PostgreSQL."""

from agent.store.audit import AuditLog, canonical_json, chain_hash
from agent.store.migrations import GENESIS_HASH, MIGRATIONS
from agent.store.models import (
    AuditEntry,
    AuditEvent,
    AuditVerifyReport,
    ConsentGrant,
    SubjectInfo,
    SweepReport,
    Template,
    TemplateInfo,
)
from agent.store.nonces import CaptureNonce, NonceLedger, SpendResult
from agent.store.store import Store, open_store
from agent.store.writer import AuditWriter

__all__ = [
    "GENESIS_HASH",
    "MIGRATIONS",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditVerifyReport",
    "AuditWriter",
    "CaptureNonce",
    "ConsentGrant",
    "NonceLedger",
    "SpendResult",
    "Store",
    "SubjectInfo",
    "SweepReport",
    "Template",
    "TemplateInfo",
    "canonical_json",
    "chain_hash",
    "open_store",
]
