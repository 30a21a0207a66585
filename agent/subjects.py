"""Subject rights: export everything held about a person (GDPR Art. 15/20) and erase it (Art. 17)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agent.clock import iso, utcnow
from agent.consent import describe_consents
from agent.errors import StoreError
from agent.store import Store
from agent.store.models import AuditEntry, Template

if TYPE_CHECKING:
    import psycopg
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agent.settings import Settings

# A cleaner deletes cached data about a subject held outside the store (e.g. an image vault) and returns how
# many items it removed. The SDK passes its own; the store knows nothing of them.
Cleaner = Callable[[str], int]


def subject_threads(store: Store, subject_id: str) -> list[dict[str, Any]]:
    """The conversations (thread ids) that involved ``subject_id``, as the audit log knows them.

    Every decision and tool run of a conversation is audited with its thread id as ``session_id`` and the
    people it concerned in ``subjects``. Oldest first, each with its first and last audited time.
    """
    return _threads_in(store.audit.query(subject=subject_id))


def _threads_in(entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """Group audit rows by thread id (rows without one are skipped)."""
    threads: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.session_id:
            continue
        item = threads.setdefault(
            entry.session_id,
            {"thread_id": entry.session_id, "first_at": iso(entry.ts), "last_at": iso(entry.ts), "audit_rows": 0},
        )
        item["last_at"] = iso(entry.ts)
        item["audit_rows"] += 1
    return list(threads.values())


def delete_threads(
    thread_ids: Sequence[str],
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    path: Path | None = None,
    url: str | None = None,
) -> int:
    """Delete these conversation threads from the LangGraph checkpoints; returns how many held anything.

    Args:
        thread_ids: the threads to delete.
        checkpointer: a LangGraph saver with ``delete_thread`` (the SDK's own); else
        url: the PostgreSQL database (``settings.database_url``) whose ``PostgresSaver`` tables hold every
            worker's conversations; else
        path: the SQLite checkpoint file (``settings.resolved_checkpoint_path``). A missing file holds nothing.

    Raises:
        StoreError: the checkpoint database cannot be opened or written.
    """
    if not thread_ids:
        return 0
    if checkpointer is not None:
        return _delete_with(checkpointer, thread_ids)
    if url is not None:
        return _delete_in_postgres(url, thread_ids)
    if path is None or not Path(path).exists():
        return 0
    from langgraph.checkpoint.sqlite import SqliteSaver

    try:
        # mode=rw: never create a checkpoint file just to erase from it.
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the conversation checkpoints {path}: {exc}", path=str(path)) from exc
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        # Overwrite what is deleted, so a conversation does not survive in the file's free pages.
        conn.execute("PRAGMA secure_delete=ON")
        saver = SqliteSaver(conn)
        saver.setup()

        def held(thread_id: str) -> bool:
            # asked in SQL: reading the checkpoint back would need the graph's types (and this module is below it)
            row = conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread_id,)).fetchone()
            return row is not None

        deleted = _delete_with(saver, thread_ids, held)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted
    except sqlite3.Error as exc:
        raise StoreError(f"cannot delete conversations from {path}: {exc}", path=str(path)) from exc
    finally:
        conn.close()


def _delete_in_postgres(url: str, thread_ids: Sequence[str]) -> int:
    from agent.store.postgres import existing_saver

    with existing_saver(url) as saver:
        if saver is None:  # no conversation was ever saved in this database
            return 0
        conn = cast("psycopg.Connection[Any]", saver.conn)  # existing_saver's: one connection, not a pool

        def held(thread_id: str) -> bool:
            # asked in SQL, as for SQLite: reading a checkpoint back would need the graph's types
            row = conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (thread_id,))
            return row.fetchone() is not None

        return _delete_with(saver, thread_ids, held)


def _delete_with(
    saver: BaseCheckpointSaver[Any], thread_ids: Sequence[str], held: Callable[[str], bool] | None = None
) -> int:
    deleted = 0
    for thread_id in thread_ids:
        if held is not None:
            holds = held(thread_id)
        else:
            holds = saver.get_tuple({"configurable": {"thread_id": thread_id}}) is not None
        saver.delete_thread(thread_id)
        deleted += holds
    return deleted


def thread_cleaner(
    store: Store, settings: Settings, *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> Cleaner:
    """A :data:`Cleaner` that deletes every conversation thread involving the subject (GDPR Art. 17): the
    checkpoints hold the conversation, tool results and image hashes."""

    def clean(subject_id: str) -> int:
        threads = [t["thread_id"] for t in subject_threads(store, subject_id)]
        url = settings.database_url.get_secret_value() if settings.database_url is not None else None
        return delete_threads(threads, checkpointer=checkpointer, path=settings.resolved_checkpoint_path, url=url)

    return clean


def export_subject(
    store: Store,
    subject_id: str,
    *,
    actor: str,
    include_templates: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything held about ``subject_id`` as JSON-safe data.

    Templates appear as metadata and a hash unless ``include_templates`` (then the vectors too: the person's
    own biometric data, handed to them). Audit rows naming the subject are included; they hold no biometrics.
    """
    now = now or utcnow()
    info = store.require_subject(subject_id)
    templates = store.templates_for(subject_id, with_vectors=include_templates)
    template_data = []
    for t in templates:
        item = t.model_dump(mode="json")
        if include_templates and isinstance(t, Template):
            item["vector"] = list(t.vector)
        template_data.append(item)
    entries = store.audit.query(subject=subject_id)
    audit = [e.model_dump(mode="json") for e in entries]
    threads = _threads_in(entries)  # the same rows: no second read of the subject's audit log
    store.writer.exported(
        subject_id,
        actor=actor,
        ts=now,
        summary={
            "templates": len(templates),
            "with_vectors": include_templates,
            "audit_rows": len(audit),
            "conversations": len(threads),
        },
    )
    return {
        "subject": {
            "id": info.id,
            "created_at": iso(info.created_at),
            "status": "erased" if info.erased else "active",
            # the last erasure: it stays when the person comes back (reregistered_at says when)
            "erased_at": iso(info.erased_at) if info.erased_at else None,
            "reregistered_at": iso(info.reregistered_at) if info.reregistered_at else None,
            "erasures": [{"at": iso(e.ts), "audit_seq": e.seq} for e in entries if e.kind == "erasure"],
        },
        "exported_at": iso(now),
        "consents": describe_consents(store.consents_for(subject_id), now),
        "templates": template_data,
        "conversations": threads,
        "audit": audit,
    }


def erase_subject(
    store: Store,
    subject_id: str,
    *,
    actor: str,
    cleaners: Sequence[Cleaner] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Delete templates and cached data, withdraw live consents, leave a tombstone and an audit row.

    Cleaners run first; if one fails nothing in the store changes (the erasure can be retried).
    """
    cached = sum(clean(subject_id) for clean in cleaners)
    return store.erase_subject(subject_id, actor=actor, now=now, extra_summary={"cached_items_deleted": cached})


def erase_subject_everywhere(
    store: Store,
    settings: Settings,
    subject_id: str,
    *,
    actor: str,
    now: datetime | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    cleaners: Sequence[Cleaner] = (),
) -> dict[str, Any]:
    """Erase a subject from the store AND from every conversation that involved them.

    The conversation threads (found through the audit log) are deleted from the checkpoints first (from
    ``checkpointer`` when given, else from PostgreSQL when ``settings.database_url`` is set, else from the SQLite
    file at ``settings.resolved_checkpoint_path``), then ``cleaners`` run, then the store erases and leaves its
    tombstone; the erasure's audit row counts the threads deleted (``threads_deleted``). If a step before the
    tombstone fails, the store is unchanged and the erasure can be retried.

    Erasure wins over turns in flight in other processes: once the tombstone is down, the threads the audit log
    names are looked up and deleted again (``late_threads_deleted``: a turn that wrote its checkpoint in between).
    A turn that writes after this sees the tombstone and deletes its own thread (:mod:`agent.graph.erasure_guard`).
    """
    store.require_subject(subject_id)
    clean_threads = thread_cleaner(store, settings, checkpointer=checkpointer)
    threads = clean_threads(subject_id)
    cached = sum(clean(subject_id) for clean in cleaners)
    result = store.erase_subject(
        subject_id,
        actor=actor,
        now=now,
        extra_summary={"cached_items_deleted": cached, "threads_deleted": threads},
    )
    return {**result, "late_threads_deleted": clean_threads(subject_id)}
