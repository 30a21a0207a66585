"""The SDK facade: :class:`FaceAgent`.

A session's purpose is an argument of the caller, never the model's: a thread keeps the purpose it started with,
and asking with another purpose on an existing thread is a :class:`UserError`. Turns run through a
:class:`~agent.sdk.runner.TurnRunner`; operator actions (consent, enrollment, subject rights) go straight to the
services that own them (:mod:`agent.sdk.operator`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from agent.errors import UnknownPurpose
from agent.graph.deps import build_deps, make_checkpointer, settings_checkpointer
from agent.graph.messages import Turn
from agent.sdk.events import AgentEvent, fold_reply
from agent.sdk.models import AgentReply, ConsentAnswers, ConsentHandler, ImageInput
from agent.sdk.operator import OperatorActions
from agent.sdk.retention import check_images
from agent.sdk.runner import TurnEnd, TurnRunner, iterate_in_thread

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agent.clock import Clock
    from agent.policy import Policy
    from agent.reasoners.base import Reasoner
    from agent.settings import Settings
    from agent.store import AuditEntry, Store
    from tools.protocol import FaceEngineProtocol


class FaceAgent(OperatorActions):
    """Consent-gated face analysis behind a conversation.

    Args:
        settings: the one settings object (default: from the environment).
        reasoner, engine, store, policy, clock: override what settings would build (tests, evals).
        checkpointer: a LangGraph saver; default the settings' (PostgreSQL with ``settings.database_url``, else
            SQLite at ``settings.resolved_checkpoint_path``); ``"memory"`` for an in-memory one.
        human_present: default for ``ask``: whether a person can be asked for consent during a run.
        consent_handler: default for ``ask``: asks the person when a run pauses for consent.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        reasoner: Reasoner | None = None,
        engine: FaceEngineProtocol | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        checkpointer: BaseCheckpointSaver[Any] | Literal["memory"] | None = None,
        human_present: bool = False,
        consent_handler: ConsentHandler | None = None,
        clock: Clock | None = None,
    ) -> None:
        from agent.graph.graph import build_graph
        from agent.settings import Settings

        self.settings = settings or Settings()
        self._own_store = store is None
        self.deps = build_deps(self.settings, reasoner=reasoner, engine=engine, store=store, policy=policy, clock=clock)
        if checkpointer is None:
            checkpointer = settings_checkpointer(self.settings)
        elif checkpointer == "memory":
            checkpointer = make_checkpointer("memory", self.settings.resolved_checkpoint_path)
        from agent.graph.erasure_guard import ErasureGuard

        # erasure wins: no checkpoint write keeps data of a person erased since the conversation named them
        self.checkpointer = ErasureGuard(checkpointer, self.deps.store)
        self.graph = build_graph(self.deps, checkpointer=self.checkpointer)
        self.runner = TurnRunner(self.deps, self.graph)
        self.human_present = human_present
        self.consent_handler = consent_handler

    @classmethod
    def for_eval(
        cls,
        settings: Settings,
        *,
        reasoner: Reasoner | None = None,
        engine: FaceEngineProtocol | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        clock: Clock | None = None,
    ) -> FaceAgent:
        """An agent for evaluations: in-memory checkpoints, nobody present to consent (needs-consent = deny)."""
        return cls(
            settings, reasoner=reasoner, engine=engine, store=store, policy=policy, checkpointer="memory", clock=clock
        )

    @property
    def store(self) -> Store:
        return self.deps.store

    @property
    def policy(self) -> Policy:
        return self.deps.policy

    @property
    def engine(self) -> FaceEngineProtocol:
        return self.deps.engine

    @property
    def reasoner(self) -> Reasoner:
        return self.deps.reasoner

    def close(self) -> None:
        conn = getattr(self.checkpointer, "conn", None)  # the SQLite saver's connection, the Postgres one's pool
        if conn is not None:
            conn.close()
        if self._own_store:
            self.deps.store.close()

    def __enter__(self) -> FaceAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def audit_entries(self, thread_id: str | None = None, **query: Any) -> list[AuditEntry]:
        return self.store.audit.query(session=thread_id, **query)

    # --- conversation ---------------------------------------------------------------------------------

    def ask(
        self,
        text: str,
        *,
        purpose: str,
        images: Sequence[ImageInput] = (),
        thread_id: str | None = None,
        human_present: bool | None = None,
        consent_handler: ConsentHandler | None = None,
    ) -> AgentReply:
        """One turn: the answer, every tool outcome and decision (with rule ids) and the audit ids."""
        end = TurnEnd()
        events = self._start(text, purpose, images, thread_id, human_present, consent_handler, end)
        return self._reply(list(events), end)

    def resume(
        self, thread_id: str, answer: ConsentAnswers, *, consent_handler: ConsentHandler | None = None
    ) -> AgentReply:
        """Answer a run paused for consent (status ``awaiting_consent``) and finish the turn."""
        end = TurnEnd()
        return self._reply(list(self._resume(thread_id, answer, consent_handler, end)), end)

    def stream(
        self,
        text: str,
        *,
        purpose: str,
        images: Sequence[ImageInput] = (),
        thread_id: str | None = None,
        human_present: bool | None = None,
        consent_handler: ConsentHandler | None = None,
    ) -> Iterator[AgentEvent]:
        """Like :meth:`ask`, yielding events as they happen; the last one is the answer (or a consent request)."""
        yield from self._start(text, purpose, images, thread_id, human_present, consent_handler, None)

    def stream_resume(
        self, thread_id: str, answer: ConsentAnswers, *, consent_handler: ConsentHandler | None = None
    ) -> Iterator[AgentEvent]:
        """Resume a run paused for consent with a person's answer; yields the rest of the turn's events."""
        yield from self._resume(thread_id, answer, consent_handler, None)

    def _start(
        self,
        text: str,
        purpose: str,
        images: Sequence[ImageInput],
        thread_id: str | None,
        human_present: bool | None,
        handler: ConsentHandler | None,
        end: TurnEnd | None,
    ) -> Iterator[AgentEvent]:
        if purpose not in self.policy.purposes:
            known = ", ".join(sorted(self.policy.purposes))
            raise UnknownPurpose(f"unknown purpose {purpose!r} (known: {known})", purpose=purpose)
        check_images(images)
        thread = thread_id or uuid.uuid4().hex
        present = self.human_present if human_present is None else human_present
        return self._locked(
            thread,
            lambda: self.runner.start(
                text, purpose=purpose, images=images, thread_id=thread, human_present=present,
                handler=handler or self.consent_handler, end=end,
            ),
        )  # fmt: skip

    def _resume(
        self, thread_id: str, answer: ConsentAnswers, handler: ConsentHandler | None, end: TurnEnd | None
    ) -> Iterator[AgentEvent]:
        return self._locked(
            thread_id, lambda: self.runner.resume(thread_id, answer, handler or self.consent_handler, end)
        )

    def _locked(self, thread_id: str, run: Callable[[], Iterator[AgentEvent]]) -> Iterator[AgentEvent]:
        with self.runner.turn(thread_id):
            yield from run()

    async def aask(self, text: str, **kwargs: Any) -> AgentReply:
        """Async twin of :meth:`ask` (the graph runs in a worker thread)."""
        return await asyncio.to_thread(self.ask, text, **kwargs)

    async def astream(self, text: str, **kwargs: Any) -> AsyncIterator[AgentEvent]:
        """Async twin of :meth:`stream`: events arrive as the worker thread produces them."""
        async for event in iterate_in_thread(lambda: self.stream(text, **kwargs)):
            yield event

    def thread_purpose(self, thread_id: str) -> str | None:
        return self.runner.values(thread_id).get("purpose")

    def transcript(self, thread_id: str) -> list[Turn]:
        return list(self.runner.values(thread_id).get("transcript", []))

    def _config(self, thread_id: str) -> Any:  # kept for callers that read the graph state directly
        return self.runner.config(thread_id)

    def _reply(self, events: list[AgentEvent], end: TurnEnd | None = None) -> AgentReply:
        if not events:
            from agent.errors import UserError

            raise UserError("the run produced nothing")
        thread_id = events[0].thread_id
        values = end.values if end is not None and end.values is not None else self.runner.values(thread_id)
        return fold_reply(
            events, thread_id=thread_id, purpose=values.get("purpose", ""), images=values.get("images", [])
        )
