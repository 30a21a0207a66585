"""What the graph runs with: :class:`AgentDeps`, built once at the edge, and the checkpointer it saves to.

:func:`build_deps` makes them from settings (explicit arguments win: tests and evaluations pass fakes); the
graph itself never reads the environment. The face engine is anything that implements
:class:`tools.protocol.FaceEngineProtocol`, whose methods return the real result models.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from agent.clock import Clock, utcnow
from agent.graph.guards.base import AnswerGuard, default_answer_guards
from agent.graph.toolset.registry import ToolRegistry, default_registry
from agent.images_vault import ImageVault
from tools.protocol import FaceEngineProtocol
from tools.provenance.checker import ProvenanceChecker

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from agent.policy import Policy
    from agent.reasoners.base import Reasoner
    from agent.settings import Settings
    from agent.store import AuditWriter, Store

__all__ = [
    "AgentDeps",
    "FaceEngineProtocol",
    "build_deps",
    "make_checkpointer",
    "postgres_checkpointer",
    "serde_allowlist",
    "settings_checkpointer",
    "sqlite_checkpointer",
]


@dataclass
class AgentDeps:
    """Everything the nodes need, built once at the edge (SDK) and passed into :func:`agent.graph.build_graph`.

    Attributes:
        reasoner: decides each step of a turn.
        fallback_reasoner: answers once the step budget (``settings.max_turn_steps``) is spent, without asking
            the model again (the SDK passes the offline reasoner).
        tools: the declared tools and the runnable ones (the tools node dispatches through it).
        answer_guards: every final answer passes these, in order (see :mod:`agent.graph.guards`).
        tool_ms: time spent inside tools, appended per run (the overhead benchmark reads it).
        checker: the one C2PA provenance checker of this agent (images are checked when they are attached; the
            gate reads ``anchors_configured``). Built from ``settings`` when not given (``deps.provenance``).
        provenance_ms: time spent checking provenance, appended per attached image.
    """

    settings: Settings
    reasoner: Reasoner
    fallback_reasoner: Reasoner
    policy: Policy
    store: Store
    engine: FaceEngineProtocol
    vault: ImageVault = field(default_factory=ImageVault)
    clock: Clock = utcnow
    tools: ToolRegistry = field(default_factory=default_registry)
    answer_guards: tuple[AnswerGuard, ...] = field(default_factory=default_answer_guards)
    tool_ms: list[float] = field(default_factory=list)
    checker: ProvenanceChecker | None = None
    provenance_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.checker is None:
            self.checker = ProvenanceChecker(self.settings)

    @property
    def provenance(self) -> ProvenanceChecker:
        """The provenance checker (one per agent: its C2PA reader settings are built once)."""
        assert self.checker is not None  # __post_init__ builds one
        return self.checker

    @property
    def audit(self) -> AuditWriter:
        """The one audit writer (the store's): every row the graph writes goes through it."""
        return self.store.writer

    def forget_image(self, sha256: str) -> bool:
        """Drop an image's pixels (vault) and cached embedding (engine); True when the pixels were held."""
        held = self.vault.drop(sha256)
        self.engine.forget(sha256)
        return held


def build_deps(
    settings: Settings,
    *,
    reasoner: Reasoner | None = None,
    engine: FaceEngineProtocol | None = None,
    store: Store | None = None,
    policy: Policy | None = None,
    vault: ImageVault | None = None,
    clock: Clock | None = None,
) -> AgentDeps:
    """Everything the graph needs, from settings; explicit arguments win (tests, evals)."""
    from agent.policy import load_policy
    from agent.reasoners import make_reasoner
    from agent.reasoners.offline import OfflineReasoner

    if store is None:
        from agent.store import Store

        store = Store.from_settings(settings)  # SQLite: creates its folder owner-only
    if engine is None:
        from tools.engine import FaceEngine

        engine = FaceEngine(settings)
    return AgentDeps(
        settings=settings,
        reasoner=reasoner or make_reasoner(settings),
        fallback_reasoner=OfflineReasoner(),
        policy=policy or load_policy(settings.policy_file),
        store=store,
        engine=engine,
        vault=vault or ImageVault(),
        clock=clock or utcnow,
    )


# --- checkpoints -------------------------------------------------------------------------------------------


def serde_allowlist() -> frozenset[tuple[str, str]]:
    """Every class a checkpoint of this graph may hold: the pydantic models and enums reachable from the state.

    LangGraph's msgpack serializer rebuilds only allow-listed classes (anything else comes back as plain data,
    and never through pickle); naming them here keeps checkpoints readable as typed models by any process.
    """
    from agent.graph.state import checkpoint_types

    found: set[tuple[str, str]] = set()
    for typ in checkpoint_types():
        _collect(typ, found, set())
    return frozenset(found)


def _collect(typ: Any, found: set[tuple[str, str]], seen: set[int]) -> None:
    if id(typ) in seen:
        return
    seen.add(id(typ))
    if isinstance(typ, type) and issubclass(typ, BaseModel):
        found.add((typ.__module__, typ.__name__))
        for info in typ.model_fields.values():
            _collect(info.annotation, found, seen)
        return
    if isinstance(typ, type) and issubclass(typ, Enum):
        found.add((typ.__module__, typ.__name__))
        return
    if isinstance(typ, type) and hasattr(typ, "__annotations__") and hasattr(typ, "__total__"):  # a TypedDict
        for hint in get_type_hints(typ, include_extras=True).values():
            _collect(hint, found, seen)
        return
    if get_origin(typ) is not None or get_args(typ):
        for arg in _type_args(typ):
            _collect(arg, found, seen)


def _type_args(typ: Any) -> Iterator[Any]:
    for arg in get_args(typ):
        if isinstance(arg, Iterable) and not isinstance(arg, str | type):
            yield from arg  # e.g. a Callable's argument list
        else:
            yield arg


def checkpoint_serde() -> JsonPlusSerializer:
    """LangGraph's msgpack serializer with this graph's allow-list and no pickle fallback."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=sorted(serde_allowlist()))


def sqlite_checkpointer(path: Path) -> BaseCheckpointSaver[str]:
    """LangGraph's SQLite checkpointer on ``path`` (conversations resumable by thread id across processes)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agent.store.db import make_private_dir, make_private_file

    # conversations name people and carry their results: owner-only, like the template database
    make_private_dir(path.parent)
    make_private_file(path)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    # Checkpoints are a conversation cache, not the record (the audit log is): WAL with NORMAL sync is durable
    # across process crashes and avoids an fsync per graph step.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            make_private_file(side)
    return SqliteSaver(conn, serde=checkpoint_serde())


def postgres_checkpointer(settings: Settings) -> BaseCheckpointSaver[str]:
    """LangGraph's ``PostgresSaver`` on ``settings.database_url``: every worker on that database resumes any
    conversation by thread id, and an erasure through any of them reaches every thread."""
    from agent.store.postgres import open_saver

    if settings.database_url is None:
        raise ValueError("postgres_checkpointer needs settings.database_url")
    saver: BaseCheckpointSaver[str] = open_saver(
        settings.database_url.get_secret_value(),
        serde=checkpoint_serde(),
        pool_max=settings.database_pool_max,
        timeout_s=settings.database_timeout_s,
    )
    return saver


def settings_checkpointer(settings: Settings) -> BaseCheckpointSaver[str]:
    """The conversations' saver the settings name: PostgreSQL with ``database_url``, else the SQLite file."""
    if settings.database_url is not None:
        return postgres_checkpointer(settings)
    return sqlite_checkpointer(settings.resolved_checkpoint_path)


def make_checkpointer(kind: str, path: Path) -> BaseCheckpointSaver[str]:
    """``"sqlite"``: :func:`sqlite_checkpointer` at ``path``; ``"memory"``: an in-process one (tests, evals)."""
    if kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver(serde=checkpoint_serde())
    return sqlite_checkpointer(path)
