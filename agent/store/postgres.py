"""The PostgreSQL backend (``FACEGATE_DATABASE_URL=postgresql://...``): a psycopg 3 connection pool shared by
the threads of one process, and any number of processes on one database.

Write transactions serialise on the audit head's row lock, taken first (``SELECT ... FOR UPDATE``): every write
facegate makes appends an audit row and would take that lock at its append anyway, so taking it at ``BEGIN``
costs no concurrency and makes it what ``BEGIN IMMEDIATE`` is for SQLite, one writer at a time, whose reads
(is this consent live? this nonce unspent?) see the last commit. Reads take a pooled connection of their own and
run in autocommit (each statement sees the latest commit); :meth:`PostgresDatabase.snapshot` is a read-only
``REPEATABLE READ`` transaction. Migrations run in one transaction under an advisory lock, so several workers
starting on an empty database apply them once.

Also here: :func:`open_saver`, LangGraph's ``PostgresSaver`` on its own pool (conversations in the same
database, resumable by thread id from any worker).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import MigrationError, NotFoundError, StoreError, UserError
from agent.store.backend import POSTGRES, apply_migrations
from agent.store.postgres_migrations import POSTGRES_MIGRATIONS

if TYPE_CHECKING:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.serde.base import SerializerProtocol
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresDatabase", "existing_saver", "open_saver", "redact_url"]

INSTALL_HINT = "PostgreSQL needs the postgres extra: pip install 'facegate[postgres]'"
# pg_advisory_xact_lock keys (any bigint): facegate's migrations, LangGraph's checkpoint tables' setup
MIGRATION_LOCK = 0x66616365_67617465  # "facegate"
SAVER_SETUP_LOCK = 0x66616365_63687074  # "facechpt"
_LOCK_WRITERS = "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise UserError(INSTALL_HINT) from exc
    return psycopg


def redact_url(url: str) -> str:
    """``postgresql://user@host:port/dbname``: where the database is, without the password (for messages)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: say nothing of what it held
        return "postgresql://(unparsable URL)"
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


@functools.lru_cache(maxsize=1024)
def _format(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). The store's SQL holds no
    ``?`` inside a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that takes the store's SQL (:class:`agent.store.backend.Connection`)."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        if not parameters:  # sent as written (migrations hold plpgsql with literal % signs)
            return self.raw.execute(sql)
        return self.raw.execute(_format(sql), parameters)


class PostgresDatabase:
    """The store's PostgreSQL backend (:class:`agent.store.backend.Backend`).

    Args:
        url: a libpq URL, ``postgresql://user:password@host:port/dbname`` (``?host=/socket/dir`` for a socket).
        create: when False, a database without facegate's tables is an error (read commands must not report
            an empty, intact log for a mistyped URL) instead of being migrated.
        pool_min, pool_max: connections the pool keeps open and may open (per process).
        timeout_s: how long to wait for the server at start, for a free pooled connection, and for the writers'
            lock (as SQLite's busy timeout: past it a writer gets a typed "database busy" error, not an endless
            wait).
        migrate_to: apply migrations up to this number only (upgrade tests).

    Raises:
        StoreError: the server cannot be reached or refuses the login.
        NotFoundError: ``create`` is False and facegate's tables are not there.
    """

    dialect = POSTGRES
    path: Path | None = None  # a server, not a file

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        pool_min: int = 1,
        pool_max: int = 4,
        timeout_s: float = 10.0,
        migrate_to: int | None = None,
    ) -> None:
        psycopg = _psycopg()
        from psycopg_pool import ConnectionPool

        self.location = redact_url(url)
        self._local = threading.local()
        self._lock_timeout_ms = max(1, round(timeout_s * 1000))
        try:
            # One direct connection first: its error says why (no such database, password refused, no
            # server), where a pool that cannot fill would only time out.
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout_s))) as conn:
                found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self.location}: {_first_line(exc)}", url=self.location) from exc
        if not create and not (found and found[0]):
            raise NotFoundError(f"no facegate tables in {self.location} (wrong FACEGATE_DATABASE_URL?)")
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=pool_min,
            max_size=max(pool_min, pool_max),
            timeout=timeout_s,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="facegate-store",
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open a connection pool to {self.location}: {exc}", url=self.location) from exc
        try:
            self.migrate(target=migrate_to)
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")

    # --- transactions -------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        """One write transaction, holding the writers' lock (the audit head row) from its start to its end;
        rolls back on any error. Nested use in one thread joins the outer one."""
        local = self._local
        if getattr(local, "conn", None) is not None:
            local.depth += 1
            try:
                yield local.conn
            finally:
                local.depth -= 1
            return
        psycopg = _psycopg()
        try:
            with self._pool.connection() as raw, raw.transaction():
                raw.execute(_LOCK_WRITERS)
                local.conn, local.depth = _Connection(raw), 1
                try:
                    yield local.conn
                finally:
                    local.conn, local.depth = None, 0
        except psycopg.errors.LockNotAvailable as exc:
            raise StoreError(
                f"database busy: another writer held the lock for {self._lock_timeout_ms} ms", url=self.location
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(f"database write failed: {_first_line(exc)}", url=self.location) from exc

    def reading(self) -> AbstractContextManager[_Connection]:
        """A connection for reads: the thread's open transaction, else a pooled one in autocommit."""
        return self._read(snapshot=False)

    def snapshot(self) -> AbstractContextManager[_Connection]:
        """A read-only ``REPEATABLE READ`` transaction: one consistent view while other workers append."""
        return self._read(snapshot=True)

    @contextmanager
    def _read(self, *, snapshot: bool) -> Iterator[_Connection]:
        local = self._local
        if getattr(local, "conn", None) is not None:  # inside this thread's write transaction: read through it
            yield local.conn
            return
        psycopg = _psycopg()
        try:
            with self._pool.connection() as raw:
                if not snapshot:
                    yield _Connection(raw)
                    return
                with raw.transaction():
                    raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield _Connection(raw)
        except psycopg.Error as exc:
            raise StoreError(f"database read failed: {_first_line(exc)}", url=self.location) from exc

    # --- migrations ---------------------------------------------------------------------------------------

    def migrate(self, *, target: int | None = None) -> list[int]:
        """Apply missing migrations (up to ``target``) in order, all in one transaction; idempotent.

        Several workers starting at once queue on an advisory lock: the first migrates, the others find it done.
        """
        psycopg = _psycopg()
        try:
            with self._pool.connection() as raw, raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                return apply_migrations(_Connection(raw), POSTGRES_MIGRATIONS, location=self.location, target=target)
        except psycopg.Error as exc:
            raise MigrationError(f"migrating {self.location} failed: {_first_line(exc)}") from exc

    def schema_version(self) -> int:
        with self.reading() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0) if row is not None else 0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- LangGraph's checkpointer ------------------------------------------------------------------------------


def open_saver(
    url: str, *, serde: SerializerProtocol | None = None, pool_max: int = 4, timeout_s: float = 10.0
) -> PostgresSaver:
    """LangGraph's ``PostgresSaver`` on a pool of its own, its tables set up (once, whoever starts first).

    The pool's connections are what ``PostgresSaver`` requires (autocommit, dict rows, no prepared statements).
    Close it with ``saver.conn.close()``.

    Raises:
        UserError: the postgres extra is not installed.
        StoreError: the server cannot be reached or the tables cannot be set up.
    """
    psycopg = _psycopg()
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        raise UserError(INSTALL_HINT) from exc
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    location = redact_url(url)
    settings: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout_s)), **settings) as conn:
            # PostgresSaver.setup() is not safe against itself in another process (CREATE TABLE IF NOT EXISTS
            # races on the catalogue): workers starting together take turns. Waiting is polling, not a blocking
            # pg_advisory_lock: setup's CREATE INDEX CONCURRENTLY waits for every open transaction, a blocked
            # lock call included, which PostgreSQL reports as a deadlock.
            deadline = time.monotonic() + max(60.0, timeout_s)
            while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SAVER_SETUP_LOCK,)).fetchone()["ok"]:
                if time.monotonic() > deadline:
                    raise StoreError(f"another worker has been setting up {location}'s conversations for too long")
                time.sleep(0.05)
            try:
                PostgresSaver(conn).setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SAVER_SETUP_LOCK,))
    except psycopg.Error as exc:
        raise StoreError(f"cannot set up conversations in {location}: {_first_line(exc)}", url=location) from exc
    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=max(1, pool_max), timeout=timeout_s, kwargs=settings, open=True,
        name="facegate-threads",
    )  # fmt: skip
    return PostgresSaver(pool, serde=serde)  # type: ignore[arg-type]


@contextmanager
def existing_saver(url: str, *, serde: SerializerProtocol | None = None) -> Iterator[PostgresSaver | None]:
    """``PostgresSaver`` on one plain connection, for listing or erasing conversations; None when no
    conversation was ever saved in this database (its tables are not there: nothing is created to find that out).

    Raises:
        StoreError: the server cannot be reached.
    """
    psycopg = _psycopg()
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        raise UserError(INSTALL_HINT) from exc
    from psycopg.rows import dict_row

    location = redact_url(url)
    try:
        conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {location}: {_first_line(exc)}", url=location) from exc
    try:
        with conn:
            row: dict[str, Any] | None = conn.execute(
                "SELECT to_regclass('checkpoints') IS NOT NULL AS present"
            ).fetchone()
            yield PostgresSaver(conn, serde=serde) if row and row["present"] else None
    except psycopg.Error as exc:
        raise StoreError(f"conversations in {location}: {_first_line(exc)}", url=location) from exc
