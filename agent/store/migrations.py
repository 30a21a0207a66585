"""Numbered schema migrations. Append new ones; never edit a migration that has shipped."""

from __future__ import annotations

GENESIS_HASH = "0" * 64

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE subjects (
                id TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                erased_at TEXT
            )""",
            """CREATE TABLE consents (
                id TEXT PRIMARY KEY,
                subject_id TEXT NOT NULL REFERENCES subjects(id),
                capabilities TEXT NOT NULL,
                purposes TEXT NOT NULL,
                notice TEXT,
                evidence TEXT,
                granted_at TEXT NOT NULL,
                expires_at TEXT,
                revoked_at TEXT,
                revoked_by TEXT,
                retention_days INTEGER,
                recorded_by_actor TEXT NOT NULL,
                derived_from TEXT
            )""",
            "CREATE INDEX consents_subject ON consents(subject_id)",
            """CREATE TABLE templates (
                id TEXT PRIMARY KEY,
                subject_id TEXT NOT NULL REFERENCES subjects(id),
                model TEXT NOT NULL,
                detector TEXT NOT NULL,
                dim INTEGER NOT NULL,
                vector BLOB NOT NULL,
                template_sha256 TEXT NOT NULL,
                image_sha256 TEXT NOT NULL,
                purpose TEXT,
                consent_id TEXT,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                UNIQUE (subject_id, model, detector)
            )""",
            """CREATE TABLE audit_log (
                seq INTEGER PRIMARY KEY,
                ts TEXT NOT NULL,
                kind TEXT NOT NULL,
                actor TEXT NOT NULL,
                session_id TEXT,
                subjects TEXT NOT NULL,
                body TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                row_hash TEXT NOT NULL
            )""",
            "CREATE INDEX audit_session ON audit_log(session_id)",
            "CREATE INDEX audit_ts ON audit_log(ts)",
            """CREATE TABLE audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count INTEGER NOT NULL,
                last_hash TEXT NOT NULL
            )""",
            f"INSERT INTO audit_head (id, count, last_hash) VALUES (1, 0, '{GENESIS_HASH}')",
        ),
    ),
    (
        2,
        (
            # Append-only by construction: editing or deleting audit rows through SQL is refused. (Anyone
            # with the file can still drop these triggers; the hash chain and head are what prove tampering.)
            """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
               BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
            """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
               BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
        ),
    ),
    (
        3,
        (
            # A consent after an erasure registers the person again; erased_at stays (the erasure happened)
            # and this says when they came back.
            "ALTER TABLE subjects ADD COLUMN reregistered_at TEXT",
        ),
    ),
    (
        4,
        (
            # Liveness nonces (facegate capture nonce): issued for a purpose (and optionally a person), spent once.
            # A spent row stays until it expires and beyond: that is how a replay is told from a stranger's nonce.
            """CREATE TABLE capture_nonces (
                nonce TEXT PRIMARY KEY,
                purpose TEXT NOT NULL,
                subject_id TEXT,
                issued_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                issued_by TEXT NOT NULL,
                spent_at TEXT,
                spent_session TEXT
            )""",
            "CREATE INDEX capture_nonces_expiry ON capture_nonces(expires_at)",
        ),
    ),
    (
        5,
        (
            # How the template was computed (tools.results.EmbeddingRecipe as JSON): a probe is compared only
            # with a template made the same way. NULL for templates stored before: they must be enrolled again.
            "ALTER TABLE templates ADD COLUMN recipe TEXT",
        ),
    ),
    (
        6,
        (
            # The audit sequence number of the subject's last erasure. Erasure wins over writes that started before
            # it (a checkpoint of a turn in flight in another process, a consent answered to a question asked
            # before it): they are told apart by audit order, never by comparing clocks. Backfilled from the
            # erasure rows (their subjects column is the canonical JSON list of the one subject).
            "ALTER TABLE subjects ADD COLUMN erased_seq INTEGER",
            """UPDATE subjects SET erased_seq = (
                   SELECT MAX(a.seq) FROM audit_log a
                   WHERE a.kind = 'erasure' AND a.subjects = '["' || subjects.id || '"]'
               ) WHERE erased_at IS NOT NULL""",
        ),
    ),
)
