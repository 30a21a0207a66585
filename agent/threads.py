"""Conversations on record: read from LangGraph's checkpointer (the SQLite file, or PostgreSQL when the settings
name a ``database_url``) through its saver API.

A thread is a conversation (``facegate chat``, ``facegate ask``, ``FaceAgent.ask(thread_id=...)``). Its
purpose is in its state from the first turn on, so a continued conversation needs no ``--purpose`` and keeps the
one it started with. Nothing here writes: a home with no conversations yet stays without a ``threads.db``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from agent.settings import Settings

INTERRUPT = "__interrupt__"  # the channel LangGraph writes a pending interrupt() to


class ThreadInfo(BaseModel):
    """One conversation as the checkpointer holds it (its latest checkpoint)."""

    thread_id: str
    purpose: str | None
    last_activity: datetime
    turns: int  # messages the person sent
    awaiting_consent: bool  # paused at a consent question (a new message declines it)


@contextmanager
def _saver(where: Path | Settings) -> Iterator[Any | None]:
    """The saver over ``where`` opened read-only (listing conversations must not create or change anything);
    None when there is no conversation database yet."""
    from agent.graph.deps import checkpoint_serde

    if not isinstance(where, Path):
        if where.database_url is not None:
            from agent.store.postgres import existing_saver

            with existing_saver(where.database_url.get_secret_value(), serde=checkpoint_serde()) as saver:
                yield saver
            return
        where = where.resolved_checkpoint_path
    path = where
    from langgraph.checkpoint.sqlite import SqliteSaver

    if not path.is_file():
        yield None
        return
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)) as conn:
        lite = SqliteSaver(conn, serde=checkpoint_serde())  # the graph's own allow-list: no pickle, no warnings
        try:
            lite.setup()  # on a read-only connection: fine when the tables exist, refused when they do not
        except sqlite3.OperationalError:
            yield None  # the file is there (created owner-only up front) but no conversation was saved yet
            return
        yield lite


def _info(item: Any) -> ThreadInfo:
    values = item.checkpoint.get("channel_values") or {}
    transcript = values.get("transcript") or []
    turns = sum(1 for t in transcript if (t.get("role") if isinstance(t, dict) else getattr(t, "role", None)) == "user")
    return ThreadInfo(
        thread_id=str(item.config["configurable"]["thread_id"]),
        purpose=values.get("purpose"),
        last_activity=datetime.fromisoformat(item.checkpoint["ts"]),
        turns=turns,
        awaiting_consent=any(w[1] == INTERRUPT for w in item.pending_writes or ()),
    )


def list_threads(where: Path | Settings, *, limit: int | None = None) -> list[ThreadInfo]:
    """Every conversation in the checkpoint database at ``where`` (a SQLite file, or the settings' database),
    most recently active first."""
    latest: dict[str, ThreadInfo] = {}
    with _saver(where) as saver:
        if saver is None:
            return []
        # newest checkpoint first (checkpoint ids are time-ordered): the first one seen of a thread is its state
        for item in saver.list(None):
            thread_id = str(item.config["configurable"]["thread_id"])
            if item.config["configurable"].get("checkpoint_ns") or thread_id in latest:
                continue
            latest[thread_id] = _info(item)
    threads = sorted(latest.values(), key=lambda t: t.last_activity, reverse=True)
    return threads[:limit] if limit is not None else threads


def get_thread(where: Path | Settings, thread_id: str) -> ThreadInfo | None:
    """The conversation ``thread_id``, or None when it has no checkpoint."""
    with _saver(where) as saver:
        if saver is None:
            return None
        item = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    return _info(item) if item is not None else None


def latest_thread(where: Path | Settings) -> ThreadInfo | None:
    """The most recently active conversation (what ``facegate chat -c`` continues)."""
    threads = list_threads(where, limit=1)
    return threads[0] if threads else None
