"""Erasure wins: a conversation's checkpoint never writes back data of a person erased since.

LangGraph writes a thread's checkpoint when a run ends or pauses. A turn in flight in one process can end after
``facegate subject erase`` ran in another; without this guard its checkpoint would write the erased person's
image handles and results back into the checkpoint database. :class:`ErasureGuard` wraps any LangGraph saver and,
after each write, refuses to keep it (deletes the thread and raises :class:`~agent.errors.ErasedDuringTurn`) when

1. the checkpoint it continues from is gone: the thread was deleted (by an erasure) after this run loaded it, so
   what it writes is the deleted conversation brought back; or
2. this turn named someone (its audit rows: images attached for them, calls about them) who was erased after the
   turn named them (:meth:`agent.store.Store.erased_after_naming` from the turn's first audit row, which the SDK
   passes as ``turn_seq`` in the run's config; audit order, never clocks).

A turn that starts after the erasure, on a new thread or on the erased thread's id, starts from nothing and may
name the person again (new data, decided by policy as ever): it is kept.

Why after the write and not before: a check before it could pass, the erasure then run, and the write land. With
the write first and the eraser's order fixed (tombstone first, then the threads the audit log names are deleted
again, :func:`agent.subjects.erase_subject_everywhere`), every interleaving ends with the thread gone: either the
check sees the tombstone or the missing parent and deletes, or it ran before the tombstone, so the write had landed
before the eraser looked for the conversation's threads (whose audit rows name the person from the turn's start).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.errors import ErasedDuringTurn
from agent.logging import get_logger

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
        DeltaChannelHistory,
    )

    from agent.store import Store

log = get_logger(__name__)


class ErasureGuard(BaseCheckpointSaver[Any]):
    """A LangGraph checkpointer that refuses to keep a thread holding data of a person erased since.

    Args:
        inner: the saver that stores checkpoints (SQLite, in memory, ...); everything but the check is its.
        store: the facegate store whose audit log and erasure tombstones decide.
    """

    def __init__(self, inner: BaseCheckpointSaver[Any], store: Store) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.store = store

    @property
    def conn(self) -> Any:
        """The inner saver's database connection, if it has one (the SDK closes it)."""
        return getattr(self.inner, "conn", None)

    @property
    def config_specs(self) -> list[Any]:
        return self.inner.config_specs

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> BaseCheckpointSaver[Any]:
        inner = self.inner.with_allowlist(extra_allowlist)
        return self if inner is self.inner else ErasureGuard(inner, self.store)

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    # --- the check ------------------------------------------------------------------------------------------

    def _settle(self, written: RunnableConfig, parent: RunnableConfig | None) -> None:
        """After a write: delete the thread and refuse if it resurrects a deleted thread (``parent``, the
        checkpoint this write continues, is gone) or keeps this turn's data of someone erased since."""
        conf = written.get("configurable") or {}
        thread_id = str(conf.get("thread_id") or "")
        if not thread_id:
            return
        run = (parent or {}).get("configurable") or {}  # the run's config: its parent and its turn_seq
        parent_id = run.get("checkpoint_id")
        ns = str(conf.get("checkpoint_ns") or "")
        orphaned = parent_id is not None and not self._exists(thread_id, ns, str(parent_id))
        since = run.get("turn_seq")
        erased = self.store.erased_after_naming(thread_id, since_seq=int(since) if since is not None else 0)
        if not orphaned and not erased:
            return
        self.inner.delete_thread(thread_id)
        named = erased or self.store.erased_after_naming(thread_id)
        log.info("checkpoint.erased_during_turn", thread=thread_id, subjects=len(named), orphaned=orphaned)
        raise ErasedDuringTurn.of(thread_id, named)

    def _exists(self, thread_id: str, ns: str, checkpoint_id: str) -> bool:
        """Whether a checkpoint is still stored (asked cheaply where the inner saver allows it)."""
        cursor = getattr(self.inner, "cursor", None)
        if callable(cursor):  # SqliteSaver: one indexed lookup instead of loading the checkpoint
            with cursor(transaction=False) as cur:
                cur.execute(
                    "SELECT 1 FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, checkpoint_id),
                )
                return cur.fetchone() is not None
        storage = getattr(self.inner, "storage", None)
        if isinstance(storage, Mapping):  # InMemorySaver
            return checkpoint_id in storage.get(thread_id, {}).get(ns, {})
        found = self.inner.get_tuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}
        )
        return found is not None

    # --- writes: the inner saver's, then the check ----------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = self.inner.put(config, checkpoint, metadata, new_versions)
        self._settle(saved, config)  # ``config`` names the checkpoint this one continues (none for a new thread)
        return saved

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.inner.put_writes(config, writes, task_id, task_path)
        self._settle(config, config)  # pending writes of a checkpoint that must still be there

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = await self.inner.aput(config, checkpoint, metadata, new_versions)
        self._settle(saved, config)
        return saved

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.inner.aput_writes(config, writes, task_id, task_path)
        self._settle(config, config)

    # --- everything else is the inner saver's ------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.inner.get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def delete_thread(self, thread_id: str) -> None:
        self.inner.delete_thread(thread_id)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.inner.get_delta_channel_history(config=config, channels=channels)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.inner.aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self.inner.alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self.inner.aget_delta_channel_history(config=config, channels=channels)
