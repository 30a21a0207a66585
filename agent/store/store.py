"""The consent registry, face templates and the audit chain in one database: a SQLite file (the embedded
default) or PostgreSQL (``FACEGATE_DATABASE_URL``), behind one interface (:mod:`agent.store.backend`).

Every change to consents or templates writes its audit row in the SAME transaction, so the registry and the
log never disagree and nothing half-written survives an error or a killed process.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import uuid
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.clock import iso, parse_iso, utcnow
from agent.errors import ConsentRequired, ErasedDuringTurn, NotFoundError, StoreError, UserError
from agent.policy import Capability
from agent.policy.models import ConsentRecord, Decision, Evidence, PolicyRequest
from agent.store.audit import AuditLog
from agent.store.backend import Backend, Connection
from agent.store.db import Database
from agent.store.models import (
    AuditEntry,
    ConsentGrant,
    SubjectInfo,
    SweepReport,
    Template,
    TemplateInfo,
)
from agent.store.nonces import NonceLedger
from agent.store.writer import AuditWriter
from tools.results import EmbeddingRecipe

if TYPE_CHECKING:
    from agent.settings import Settings

_CONSENT_COLS = (
    "id, subject_id, capabilities, purposes, notice, evidence, granted_at, expires_at, revoked_at, retention_days"
)
_TEMPLATE_COLS = (
    "id, subject_id, model, detector, dim, template_sha256, image_sha256, purpose, consent_id, created_at, expires_at, "
    "recipe"
)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def vector_to_blob(vector: Sequence[float]) -> bytes:
    """float32, little-endian."""
    arr = array("f", vector)
    if sys.byteorder == "big":  # pragma: no cover
        arr.byteswap()
    return arr.tobytes()


def blob_to_vector(blob: bytes) -> tuple[float, ...]:
    arr = array("f")
    arr.frombytes(blob)
    if sys.byteorder == "big":  # pragma: no cover
        arr.byteswap()
    return tuple(arr)


def _evidence_from_json(data: dict[str, Any]) -> Evidence:
    try:
        return Evidence(**data)
    except ValidationError:
        # A row written before blank evidence was refused: shown as recorded, and the record is incomplete
        # (ConsentRecord.missing_elements), so it is never consent.
        return Evidence.model_construct(**data)


def _consent_from_row(row: Sequence[Any]) -> ConsentRecord:
    evidence = json.loads(row[5]) if row[5] else None
    return ConsentRecord(
        id=row[0],
        subject_id=row[1],
        capabilities=frozenset(Capability(c) for c in json.loads(row[2])),
        purposes=frozenset(json.loads(row[3])),
        notice=row[4],
        evidence=_evidence_from_json(evidence) if evidence else None,
        granted_at=datetime.fromisoformat(row[6]),
        expires_at=parse_iso(row[7]),
        revoked_at=parse_iso(row[8]),
        retention_days=row[9],
    )


_SUBJECT_COLS = "id, created_at, erased_at, reregistered_at"


def _subject_from_row(row: Sequence[Any]) -> SubjectInfo:
    return SubjectInfo(
        id=row[0],
        created_at=datetime.fromisoformat(row[1]),
        erased_at=parse_iso(row[2]),
        reregistered_at=parse_iso(row[3]),
    )


def _template_info_from_row(row: Sequence[Any]) -> dict[str, Any]:
    keys = [k.strip() for k in _TEMPLATE_COLS.split(",")]
    data = dict(zip(keys, row, strict=True))
    data["created_at"] = parse_iso(data["created_at"])
    data["expires_at"] = parse_iso(data["expires_at"])
    recipe = data["recipe"]
    if recipe is None:  # stored before migration 5: how it was computed is not known
        data["recipe"] = EmbeddingRecipe(
            model=data["model"], detector=data["detector"], detect_max_side=None, align=None, mirror=False
        )
    else:
        data["recipe"] = EmbeddingRecipe.model_validate_json(recipe)
    return data


class Store:
    """Subjects, consents, templates and the audit log. Safe across processes and across threads of one process:
    SQLite (one connection, WAL + ``BEGIN IMMEDIATE``, a lock) or PostgreSQL (a pool; writers serialised on the
    audit head's row lock). Open with :meth:`open` (SQLite), :meth:`connect` (PostgreSQL) or
    :meth:`from_settings` (whichever the settings name)."""

    def __init__(self, db: Backend) -> None:
        self._db = db
        self.audit = AuditLog(db)
        self.writer = AuditWriter(self.audit)
        self.nonces = NonceLedger(db, self.writer)  # liveness nonces (facegate capture nonce)

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Store:
        """Open (creating and migrating when needed) the database at ``path``.

        Args:
            path: the SQLite file.
            create: when False, a missing file is an error instead of a new empty database (read commands:
                an empty log of a mistyped home must not verify as intact).

        Raises:
            NotFoundError: ``create`` is False and there is no database at ``path``.
            OSError: ``create`` is False and ``path`` cannot be looked at (e.g. a file where a folder should be).
        """
        path = Path(path)
        if not create:
            try:
                path.stat()  # other OSErrors (a file where a folder should be, no permission) propagate
            except FileNotFoundError:
                raise NotFoundError(f"no facegate database at {path} (wrong --home?)", path=str(path)) from None
        return cls(Database(path))

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        create: bool = True,
        pool_min: int = 1,
        pool_max: int = 4,
        timeout_s: float = 10.0,
    ) -> Store:
        """Open (migrating when needed) the PostgreSQL database at ``url`` (``postgresql://...``; the database
        and its role must exist, see the README). The arguments and errors are
        :class:`agent.store.postgres.PostgresDatabase`'s; without the postgres extra, a :class:`UserError`."""
        from agent.store.postgres import PostgresDatabase

        return cls(PostgresDatabase(url, create=create, pool_min=pool_min, pool_max=pool_max, timeout_s=timeout_s))

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Store:
        """PostgreSQL when ``settings.database_url`` is set, else SQLite at ``settings.resolved_db_path``."""
        if settings.database_url is not None:
            return cls.connect(
                settings.database_url.get_secret_value(),
                create=create,
                pool_min=settings.database_pool_min,
                pool_max=settings.database_pool_max,
                timeout_s=settings.database_timeout_s,
            )
        return cls.open(settings.resolved_db_path, create=create)

    @property
    def path(self) -> Path | None:
        """The SQLite file; None on PostgreSQL (see :attr:`location`)."""
        return self._db.path

    @property
    def location(self) -> str:
        """Where the data is, for messages: the SQLite file, or the PostgreSQL URL without its password."""
        return self._db.location

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgres"``."""
        return self._db.dialect.name

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Group several store calls into one all-or-nothing transaction."""
        with self._db.transaction() as conn:
            yield conn

    def schema_version(self) -> int:
        return self._db.schema_version()

    # --- subjects ---------------------------------------------------------------------------------------

    def get_subject(self, subject_id: str) -> SubjectInfo | None:
        with self._db.reading() as conn:
            row = conn.execute(f"SELECT {_SUBJECT_COLS} FROM subjects WHERE id = ?", (subject_id,)).fetchone()
        return None if row is None else _subject_from_row(row)

    def require_subject(self, subject_id: str) -> SubjectInfo:
        info = self.get_subject(subject_id)
        if info is None:
            raise NotFoundError(f"unknown subject {subject_id!r}", subject=subject_id)
        return info

    def list_subjects(self) -> list[SubjectInfo]:
        with self._db.reading() as conn:
            rows = conn.execute(f"SELECT {_SUBJECT_COLS} FROM subjects ORDER BY id").fetchall()
        return [_subject_from_row(r) for r in rows]

    def record_decision(
        self,
        request: PolicyRequest,
        decision: Decision,
        *,
        now: datetime | None = None,
        summary: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append the audit row of a policy decision (:meth:`AuditWriter.decision`)."""
        return self.writer.decision(request, decision, extra=summary, ts=now)

    # --- consents ---------------------------------------------------------------------------------------

    def grant_consent(
        self, grant: ConsentGrant, *, actor: str, now: datetime | None = None, asked_at_seq: int | None = None
    ) -> ConsentRecord:
        """Record a consent (raises InvalidConsent when it lacks notice, purpose, term or evidence).

        Args:
            asked_at_seq: the audit row of the question this consent answers (a run paused for consent). If the
                person was erased after it, the answer does not register them again: ErasedDuringTurn.
        """
        now = now or utcnow()
        expires = grant.check_complete(now)
        record = ConsentRecord(
            id=_new_id("c"),
            subject_id=grant.subject_id,
            capabilities=grant.capabilities,
            purposes=frozenset(p.strip() for p in grant.purposes),
            notice=grant.notice.strip() if grant.notice else None,
            evidence=grant.evidence,
            granted_at=now,
            expires_at=expires,
            retention_days=grant.retention_days,
        )
        with self._db.transaction() as conn:
            row = conn.execute(f"SELECT {_SUBJECT_COLS} FROM subjects WHERE id = ?", (record.subject_id,)).fetchone()
            subject = _subject_from_row(row) if row else None
            if asked_at_seq is not None and subject is not None:
                (erased_seq,) = conn.execute(
                    "SELECT erased_seq FROM subjects WHERE id = ?", (record.subject_id,)
                ).fetchone()
                if erased_seq is not None and erased_seq > asked_at_seq:
                    raise ErasedDuringTurn(
                        f"{record.subject_id} was erased after this question was asked; the answer is not recorded "
                        "(a new consent, given now, registers them again)",
                        subjects=[record.subject_id],
                    )
            # A consent after an erasure registers the person again. The erasure stays on record (erased_at is
            # history, not a flag to clear); reregistered_at says when they came back.
            erased_before = subject.erased_at if subject is not None and subject.erased else None
            if subject is None:
                conn.execute("INSERT INTO subjects (id, created_at) VALUES (?, ?)", (record.subject_id, iso(now)))
            elif erased_before is not None:
                conn.execute("UPDATE subjects SET reregistered_at = ? WHERE id = ?", (iso(now), record.subject_id))
            self._insert_consent(conn, record, actor=actor)
            self.writer.consent_granted(record, actor=actor, ts=now, reregistered_after=erased_before)
        return record

    def _insert_consent(
        self, conn: Connection, record: ConsentRecord, *, actor: str, derived_from: str | None = None
    ) -> None:
        conn.execute(
            "INSERT INTO consents (id, subject_id, capabilities, purposes, notice, evidence, granted_at, "
            "expires_at, revoked_at, retention_days, recorded_by_actor, derived_from) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.subject_id,
                json.dumps(sorted(c.value for c in record.capabilities)),
                json.dumps(sorted(record.purposes)),
                record.notice,
                record.evidence.model_dump_json() if record.evidence else None,
                iso(record.granted_at),
                iso(record.expires_at) if record.expires_at else None,
                iso(record.revoked_at) if record.revoked_at else None,
                record.retention_days,
                actor,
                derived_from,
            ),
        )

    def consents_for(self, subject_id: str) -> list[ConsentRecord]:
        """Every consent record of a subject (active or not), oldest first."""
        return self.consents_for_many([subject_id])

    def consents_for_many(self, subject_ids: Iterable[str]) -> list[ConsentRecord]:
        ids = sorted(set(subject_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_CONSENT_COLS} FROM consents WHERE subject_id IN ({marks}) ORDER BY granted_at, id",
                ids,
            ).fetchall()
        return [_consent_from_row(r) for r in rows]

    def get_consent(self, consent_id: str) -> ConsentRecord:
        with self._db.reading() as conn:
            row = conn.execute(f"SELECT {_CONSENT_COLS} FROM consents WHERE id = ?", (consent_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"unknown consent {consent_id!r}", consent_id=consent_id)
        return _consent_from_row(row)

    def revoke_consent(
        self,
        subject_id: str,
        *,
        actor: str,
        consent_id: str | None = None,
        capability: Capability | None = None,
        now: datetime | None = None,
        session_id: str | None = None,
    ) -> list[ConsentRecord]:
        """Withdraw consent at once. Returns the records revoked.

        With ``consent_id``: that record. With ``capability``: that capability in every live record (the rest
        of such a record is re-recorded as a new record, so withdrawing one use does not withdraw others).
        With neither: every live record. When no live enrollment consent is left for a template's purpose, the
        subject's templates are deleted in the same transaction.
        """
        now = now or utcnow()
        capability = Capability(capability) if capability is not None else None
        self.require_subject(subject_id)
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_CONSENT_COLS} FROM consents WHERE subject_id = ? AND revoked_at IS NULL "
                "ORDER BY granted_at, id",
                (subject_id,),
            ).fetchall()
            live = [r for r in (_consent_from_row(row) for row in rows) if not r.expired_by(now)]
            if consent_id is not None:
                targets = [r for r in live if r.id == consent_id]
                if not targets:
                    raise NotFoundError(
                        f"no live consent {consent_id!r} of subject {subject_id!r} to revoke",
                        consent_id=consent_id,
                    )
                if capability is not None and capability not in targets[0].capabilities:
                    raise UserError(f"consent {consent_id!r} does not grant {capability.value}")
            elif capability is not None:
                targets = [r for r in live if capability in r.capabilities]
            else:
                targets = live
            if not targets:
                what = f" to {capability.value}" if capability else ""
                raise NotFoundError(f"subject {subject_id!r} has no live consent{what} to revoke", subject=subject_id)
            revoked: list[ConsentRecord] = []
            successors: list[str] = []
            for record in targets:
                conn.execute(
                    "UPDATE consents SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                    (iso(now), actor, record.id),
                )
                revoked.append(record.model_copy(update={"revoked_at": now}))
                remaining = record.capabilities - {capability} if capability is not None else frozenset()
                if remaining:
                    successor = record.model_copy(update={"id": _new_id("c"), "capabilities": remaining})
                    self._insert_consent(conn, successor, actor=actor, derived_from=record.id)
                    successors.append(successor.id)
            deleted = self._delete_uncovered_templates(conn, subject_id, now)
            self.writer.consent_revoked(
                subject_id,
                actor=actor,
                ts=now,
                session_id=session_id,
                capability=capability,
                consent_ids=[r.id for r in revoked],
                successor_ids=successors,
                templates_deleted=deleted,
            )
        return revoked

    # --- templates --------------------------------------------------------------------------------------

    def save_template(
        self,
        subject_id: str,
        *,
        model: str,
        detector: str,
        vector: Sequence[float],
        image_sha256: str,
        expires_at: datetime,
        purpose: str | None = None,
        consent_id: str | None = None,
        actor: str = "system",
        session_id: str | None = None,
        now: datetime | None = None,
        audit_summary: dict[str, Any] | None = None,
        rule_id: str | None = None,
        policy_hash: str | None = None,
        recipe: EmbeddingRecipe | None = None,
    ) -> str:
        """Store (or replace) the subject's template for ``model``+``detector``; returns its id.

        With ``consent_id``, the consent is re-checked inside the transaction (a revocation that raced the
        enrollment wins). ``rule_id`` and ``policy_hash`` name the decision that allowed it (audit columns).
        ``recipe`` records how the vector was computed (``FaceEmbedding.recipe``); without it the template
        reads back as unrecorded and matches no engine.
        """
        now = now or utcnow()
        if not vector:
            raise UserError("empty template vector")
        if recipe is not None and (recipe.model, recipe.detector) != (model, detector):
            raise UserError(
                f"the recipe says {recipe.model}/{recipe.detector}, the template {model}/{detector}",
                model=model,
                detector=detector,
            )
        blob = vector_to_blob(vector)
        template_sha = hashlib.sha256(blob).hexdigest()
        template_id = _new_id("t")
        with self._db.transaction() as conn:
            row = conn.execute(f"SELECT {_SUBJECT_COLS} FROM subjects WHERE id = ?", (subject_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"unknown subject {subject_id!r}", subject=subject_id)
            if _subject_from_row(row).erased:
                # an enrollment decided before an erasure must not bring a template back; a new consent
                # registers the person again first
                raise ConsentRequired(
                    f"{subject_id} was erased; no template is stored until a new consent registers them again",
                    subject=subject_id,
                )
            if consent_id is not None:
                row = conn.execute(f"SELECT {_CONSENT_COLS} FROM consents WHERE id = ?", (consent_id,)).fetchone()
                record = _consent_from_row(row) if row else None
                if (
                    record is None
                    or record.subject_id != subject_id
                    or not record.active_at(now)
                    or Capability.ENROLLMENT not in record.capabilities
                    or (purpose is not None and purpose not in record.purposes)
                ):
                    raise ConsentRequired(
                        f"consent {consent_id!r} no longer allows enrolling {subject_id!r}",
                        subject=subject_id,
                    )
            replaced = conn.execute(
                "DELETE FROM templates WHERE subject_id = ? AND model = ? AND detector = ?",
                (subject_id, model, detector),
            ).rowcount
            conn.execute(
                f"INSERT INTO templates ({_TEMPLATE_COLS}, vector) VALUES ({', '.join('?' * 13)})",
                (
                    template_id,
                    subject_id,
                    model,
                    detector,
                    len(vector),
                    template_sha,
                    image_sha256,
                    purpose,
                    consent_id,
                    iso(now),
                    iso(expires_at),
                    recipe.model_dump_json() if recipe is not None else None,
                    blob,
                ),
            )
            self.writer.template_saved(
                subject_id,
                actor=actor,
                ts=now,
                session_id=session_id,
                purpose=purpose,
                image_sha256=image_sha256,
                rule_id=rule_id,
                policy_hash=policy_hash,
                summary={
                    "template_id": template_id,
                    "template_sha256": template_sha,
                    "model": model,
                    "detector": detector,
                    "dim": len(vector),
                    "recipe": recipe.model_dump(mode="json") if recipe is not None else None,
                    "consent_id": consent_id,
                    "expires_at": iso(expires_at),
                    "replaced": bool(replaced),
                    **(audit_summary or {}),
                },
            )
        return template_id

    def get_template(
        self, subject_id: str, *, model: str, detector: str, now: datetime | None = None
    ) -> Template | None:
        """The subject's template for ``model``+``detector``; None when absent or past its retention at
        ``now`` (a template awaiting the retention sweep is never used)."""
        with self._db.reading() as conn:
            row = conn.execute(
                f"SELECT {_TEMPLATE_COLS}, vector FROM templates "
                "WHERE subject_id = ? AND model = ? AND detector = ? AND expires_at > ?",
                (subject_id, model, detector, iso(now or utcnow())),
            ).fetchone()
        if row is None:
            return None
        return Template(**_template_info_from_row(row[:-1]), vector=blob_to_vector(row[-1]))

    def has_template(self, subject_id: str, *, model: str, detector: str, now: datetime | None = None) -> bool:
        """Whether a usable (unexpired) template exists: what ``claimed_subject_enrolled`` should say."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM templates WHERE subject_id = ? AND model = ? AND detector = ? AND expires_at > ?",
                (subject_id, model, detector, iso(now or utcnow())),
            ).fetchone()
        return row is not None

    def template_purpose(
        self, subject_id: str, *, model: str, detector: str, now: datetime | None = None
    ) -> str | None:
        """The purpose recorded on the subject's usable template for ``model``+``detector``: what
        ``PolicyRequest.claimed_template_purpose`` should say. None when there is no usable template; ``""`` for
        a template stored without a purpose (it serves no purpose of its own)."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT purpose FROM templates WHERE subject_id = ? AND model = ? AND detector = ? AND expires_at > ?",
                (subject_id, model, detector, iso(now or utcnow())),
            ).fetchone()
        if row is None:
            return None
        return str(row[0] or "")

    def templates_for(self, subject_id: str, *, with_vectors: bool = False) -> list[TemplateInfo]:
        """A subject's templates (metadata only unless ``with_vectors``)."""
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_TEMPLATE_COLS}, vector FROM templates WHERE subject_id = ? ORDER BY created_at",
                (subject_id,),
            ).fetchall()
        if with_vectors:
            return [Template(**_template_info_from_row(r[:-1]), vector=blob_to_vector(r[-1])) for r in rows]
        return [TemplateInfo(**_template_info_from_row(r[:-1])) for r in rows]

    def _delete_uncovered_templates(self, conn: Connection, subject_id: str, now: datetime) -> int:
        """Delete the subject's templates past retention or no longer covered by a live enrollment consent."""
        rows = conn.execute(f"SELECT {_CONSENT_COLS} FROM consents WHERE subject_id = ?", (subject_id,)).fetchall()
        enrolling = [
            r for r in map(_consent_from_row, rows) if r.active_at(now) and Capability.ENROLLMENT in r.capabilities
        ]
        covered = {p for r in enrolling for p in r.purposes}
        deleted = 0
        for tid, purpose, expires in conn.execute(
            "SELECT id, purpose, expires_at FROM templates WHERE subject_id = ?", (subject_id,)
        ).fetchall():
            keep = (covered if purpose is None else purpose in covered) and expires > iso(now)
            if not keep:
                conn.execute("DELETE FROM templates WHERE id = ?", (tid,))
                deleted += 1
        return deleted

    def sweep_retention(self, *, actor: str, now: datetime | None = None) -> SweepReport:
        """Delete templates past retention or no longer covered by a live enrollment consent (BIPA 15(a))."""
        now = now or utcnow()
        with self._db.transaction() as conn:
            subjects = [r[0] for r in conn.execute("SELECT DISTINCT subject_id FROM templates ORDER BY subject_id")]
            per_subject = {s: self._delete_uncovered_templates(conn, s, now) for s in subjects}
            entry = self.writer.retention_swept(per_subject, actor=actor, ts=now)
        return SweepReport(templates_deleted=sum(per_subject.values()), subjects=entry.subjects, audit_seq=entry.seq)

    # --- erasure ----------------------------------------------------------------------------------------

    def erase_subject(
        self,
        subject_id: str,
        *,
        actor: str,
        now: datetime | None = None,
        extra_summary: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete the subject's templates, withdraw every live consent and leave a tombstone.

        Consent records stay (they prove what was agreed, GDPR Art. 7(1)); audit rows stay and hold no
        biometric data.
        """
        now = now or utcnow()
        self.require_subject(subject_id)
        with self._db.transaction() as conn:
            templates = conn.execute("DELETE FROM templates WHERE subject_id = ?", (subject_id,)).rowcount
            revoked = conn.execute(
                "UPDATE consents SET revoked_at = ?, revoked_by = ? WHERE subject_id = ? AND revoked_at IS NULL",
                (iso(now), actor, subject_id),
            ).rowcount
            # liveness nonces issued for them name them too (a replay of a deleted nonce is refused all the same:
            # an unknown nonce is no attestation)
            nonces = conn.execute("DELETE FROM capture_nonces WHERE subject_id = ?", (subject_id,)).rowcount
            summary = {
                "templates_deleted": templates,
                "consents_revoked": revoked,
                "nonces_deleted": nonces,
                **(extra_summary or {}),
            }
            entry = self.writer.erased(subject_id, actor=actor, ts=now, summary=summary)
            conn.execute(
                "UPDATE subjects SET erased_at = ?, erased_seq = ? WHERE id = ?", (iso(now), entry.seq, subject_id)
            )
        return {**summary, "subject": subject_id, "erased_at": iso(now), "audit_seq": entry.seq}

    def erased_after_naming(self, session_id: str, *, since_seq: int = 0) -> list[str]:
        """The subjects this session's audit rows (after ``since_seq``) name who were erased after the session
        first named them there.

        A conversation's checkpoint holds what its turns did with the people its audit rows name (images
        attached for them, calls about them, their results); one of them erased after the conversation named
        them means it holds data from before the erasure, which must not be written back. ``since_seq``: only
        the rows of a turn that started after that row (what that turn itself added). Ordered by audit sequence
        numbers, not clocks. Rows that name someone only after their erasure (a new image, a new consent) are
        not affected.
        """
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT subjects, MIN(seq) FROM audit_log WHERE session_id = ? AND seq > ? GROUP BY subjects",
                (session_id, since_seq),
            ).fetchall()
            first: dict[str, int] = {}
            for subjects, seq in rows:
                for subject in json.loads(subjects):
                    first[subject] = min(first.get(subject, seq), seq)
            if not first:
                return []
            names = sorted(first)
            marks = ",".join("?" * len(names))
            erased = conn.execute(
                f"SELECT id, erased_seq FROM subjects WHERE erased_seq IS NOT NULL AND id IN ({marks})", names
            ).fetchall()
        return sorted(subject for subject, seq in erased if seq > first[subject])


def open_store(path: Path) -> Store:
    """Alias of :meth:`Store.open` for callers that prefer a function."""
    try:
        return Store.open(path)
    except sqlite3.Error as exc:  # pragma: no cover - Database translates its own errors
        raise StoreError(f"cannot open {path}: {exc}") from exc
