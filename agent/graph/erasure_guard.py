"""Erasure wins: a conversation's checkpoint never writes back a person erased after it first named them.

LangGraph writes a thread's checkpoint when a run ends or pauses. A turn in flight in one process can end after
``facegate subject erase`` ran in another; without this guard its checkpoint would write the erased person's
image handles and results back into the checkpoint database. :class:`ErasureGuard` wraps any LangGraph saver: after
each write it asks the store whether someone the conversation's audit rows name was erased after the
conversation first named them (:meth:`agent.store.Store.erased_after_naming`, ordered by audit sequence numbers,
not clocks); if so it deletes the whole thread and raises :class:`~agent.errors.ErasedDuringTurn`.

Why after the write and not before: a check before it could pass, the erasure then run, and the write land. With
the write first and the eraser's order fixed (tombstone first, then the threads the audit log names are deleted,
:func:`agent.subjects.erase_subject_everywhere`), every interleaving ends with the thread gone: either the check
sees the tombstone and deletes, or it ran before the tombstone, so the write had landed before the eraser looked
for the conversation's threads (whose audit rows name the person from the turn's start) and deleted it.
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

    def _settle(self, config: RunnableConfig) -> None:
        """After a write: delete the thread and refuse if it names someone erased since it first named them."""
        thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        if not thread_id:
            return
        erased = self.store.erased_after_naming(thread_id)
        if not erased:
            return
        self.inner.delete_thread(thread_id)
        log.info("checkpoint.erased_during_turn", thread=thread_id, subjects=len(erased))
        raise ErasedDuringTurn.of(thread_id, erased)

    # --- writes: the inner saver's, then the check ----------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = self.inner.put(config, checkpoint, metadata, new_versions)
        self._settle(saved)
        return saved

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.inner.put_writes(config, writes, task_id, task_path)
        self._settle(config)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = await self.inner.aput(config, checkpoint, metadata, new_versions)
        self._settle(saved)
        return saved

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.inner.aput_writes(config, writes, task_id, task_path)
        self._settle(config)

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
