"""PostgreSQL's numbered schema migrations: the same steps, with the same numbers, as SQLite's
(:mod:`agent.store.migrations`), so a schema version means the same tables on either backend. Append new ones;
never edit a migration that has shipped.

Times, consent lists and audit bodies stay text (ISO-8601 UTC, canonical JSON) exactly as SQLite holds them: the
audit chain hashes those strings, rows sort the same way, and an export reads the same on both. Vectors are
``bytea`` (float32, little-endian, as SQLite's blobs).
"""

from __future__ import annotations

from agent.store.migrations import GENESIS_HASH

POSTGRES_MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
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
                vector BYTEA NOT NULL,
                template_sha256 TEXT NOT NULL,
                image_sha256 TEXT NOT NULL,
                purpose TEXT,
                consent_id TEXT,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                UNIQUE (subject_id, model, detector)
            )""",
            """CREATE TABLE audit_log (
                seq BIGINT PRIMARY KEY,
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
            # serves AuditLog.query(subject=...) (Dialect.subject_in_list): a subject's rows without a scan
            "CREATE INDEX audit_subjects ON audit_log USING GIN ((subjects::jsonb))",
            """CREATE TABLE audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count BIGINT NOT NULL,
                last_hash TEXT NOT NULL
            )""",
            f"INSERT INTO audit_head (id, count, last_hash) VALUES (1, 0, '{GENESIS_HASH}')",
        ),
    ),
    (
        2,
        (
            # Append-only, enforced by the database for every role that does not own the tables: rows of the
            # log are never updated or deleted (TRUNCATE skips row triggers, so it has its own); the head only
            # ever moves one row forward, onto the row just appended; a row that does not extend the head, or
            # whose hash is not sha256(prev_hash || body), is refused. The owner can still drop the triggers:
            # the hash chain and an anchored head are what prove tampering (as with SQLite).
            """CREATE FUNCTION facegate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
               END $$""",
            """CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
               FOR EACH ROW EXECUTE FUNCTION facegate_append_only()""",
            """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
               FOR EACH STATEMENT EXECUTE FUNCTION facegate_append_only()""",
            """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
               FOR EACH ROW EXECUTE FUNCTION facegate_append_only()""",
            """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
               FOR EACH STATEMENT EXECUTE FUNCTION facegate_append_only()""",
            """CREATE FUNCTION facegate_audit_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
               DECLARE head audit_head%ROWTYPE;
               BEGIN
                 SELECT * INTO head FROM audit_head WHERE id = 1 FOR UPDATE;
                 IF NEW.seq <> head.count + 1 OR NEW.prev_hash <> head.last_hash
                    OR NEW.row_hash <> encode(sha256(convert_to(NEW.prev_hash || NEW.body, 'UTF8')), 'hex') THEN
                   RAISE EXCEPTION 'audit row % does not extend the chain at row %', NEW.seq, head.count
                     USING ERRCODE = 'integrity_constraint_violation';
                 END IF;
                 RETURN NEW;
               END $$""",
            """CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
               FOR EACH ROW EXECUTE FUNCTION facegate_audit_extends_head()""",
            """CREATE FUNCTION facegate_head_moves_forward() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF NEW.id <> OLD.id OR NEW.count <> OLD.count + 1 OR NEW.last_hash IS DISTINCT FROM
                    (SELECT row_hash FROM audit_log WHERE seq = NEW.count) THEN
                   RAISE EXCEPTION 'the audit head only moves onto the row just appended'
                     USING ERRCODE = 'integrity_constraint_violation';
                 END IF;
                 RETURN NEW;
               END $$""",
            """CREATE TRIGGER audit_head_moves_forward BEFORE UPDATE ON audit_head
               FOR EACH ROW EXECUTE FUNCTION facegate_head_moves_forward()""",
        ),
    ),
    (
        3,
        (
            # A consent after an erasure registers the person again (see the SQLite migration 3).
            "ALTER TABLE subjects ADD COLUMN reregistered_at TEXT",
        ),
    ),
    (
        4,
        (
            # Liveness nonces (see the SQLite migration 4).
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
            # How the template was computed (see the SQLite migration 5).
            "ALTER TABLE templates ADD COLUMN recipe TEXT",
        ),
    ),
    (
        6,
        (
            # The audit sequence number of the subject's last erasure (see the SQLite migration 6): erasure wins
            # over writes that started before it, told apart by audit order. Backfilled from the erasure rows.
            "ALTER TABLE subjects ADD COLUMN erased_seq BIGINT",
            """UPDATE subjects SET erased_seq = (
                   SELECT MAX(a.seq) FROM audit_log a
                   WHERE a.kind = 'erasure' AND a.subjects = '["' || subjects.id || '"]'
               ) WHERE erased_at IS NOT NULL""",
        ),
    ),
)
