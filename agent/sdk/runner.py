"""Running turns on the graph: starting and resuming them, one at a time per thread, and what images outlive them.

A session's purpose is its caller's: a thread keeps the purpose it started with. Only image handles enter the
state (:mod:`agent.sdk.retention` keeps the pixels and decides how long). When a run pauses for consent, a
consent handler asks the person; the consent is recorded here through :mod:`agent.consent` (never by the model)
and the run resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from agent.errors import ErasedDuringTurn, FacegateError, UserError
from agent.graph.consent_record import record_or_decline
from agent.graph.images import new_turn_state
from agent.graph.state import AgentState, ConsentQuestion, ConsentReply
from agent.sdk.events import (
    AgentEvent,
    ConsentAnswerEvent,
    ConsentRequestEvent,
    UserEvent,
    events_of,
)
from agent.sdk.models import ConsentAnswer, ConsentAnswers, ConsentHandler, ConsentRequest, ImageInput
from agent.sdk.retention import ImageRetention

T = TypeVar("T")

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import StateSnapshot

    from agent.graph.deps import AgentDeps


@dataclass
class TurnEnd:
    """Where a run leaves the state it ended in (so that a reply needs no second state read)."""

    values: AgentState | None = None


class TurnRunner:
    """Drives the compiled graph for an SDK object: turns, resumes, per-thread locks and image retention."""

    def __init__(self, deps: AgentDeps, graph: CompiledStateGraph[AgentState, None, AgentState, AgentState]) -> None:
        self.deps = deps
        self.graph = graph
        self._lock = threading.RLock()
        # One run at a time per thread: two turns on one thread would each start from the same checkpoint and the
        # later write would drop the other's history. Held for a whole run (see turn()).
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_owners: dict[str, int] = {}
        self.images = ImageRetention(deps)

    # --- state ----------------------------------------------------------------------------------------------

    def config(self, thread_id: str) -> RunnableConfig:
        # Recursion limit: each tool round is up to three graph steps (policy, consent, tools) plus reason.
        return {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": 8 * self.deps.settings.max_turn_steps + 20,
        }

    def values(self, thread_id: str) -> AgentState:
        return _values(self.graph.get_state(self.config(thread_id)))

    def pending_request(self, snapshot: StateSnapshot, thread_id: str) -> ConsentRequest | None:
        """The consent question a paused thread waits on, if any."""
        if not snapshot.interrupts:
            return None
        question = ConsentQuestion.model_validate(snapshot.interrupts[0].value)
        return ConsentRequest(
            thread_id=thread_id,
            call_id=question.call.id,
            tool=question.decision.tool or question.call.name,
            purpose=question.purpose,
            args=question.call.args,
            missing=question.decision.missing,
            decision=question.decision,
        )

    # --- turns ----------------------------------------------------------------------------------------------

    def start(
        self,
        text: str,
        *,
        purpose: str,
        images: Sequence[ImageInput],
        thread_id: str,
        human_present: bool,
        handler: ConsentHandler | None,
        end: TurnEnd | None = None,
    ) -> Iterator[AgentEvent]:
        """One turn on ``thread_id`` (the caller holds :meth:`turn`). ``end`` receives the state it ends in."""
        config = self.config(thread_id)
        turn_seq = self.deps.store.audit.head()[0]  # this turn's audit rows come after it (the erasure guard)
        with self._lock:
            snapshot = self.graph.get_state(config)
            values = _values(snapshot)
            _require_typed(values, thread_id)
            if values.get("purpose") not in (None, purpose):
                raise UserError(
                    f"thread {thread_id} was started for purpose {values.get('purpose')!r}; a conversation keeps "
                    f"its purpose: start a new thread for {purpose!r}",
                    thread_id=thread_id,
                )
            paused = self.pending_request(snapshot, thread_id) if snapshot.next else None
        if paused is not None:
            # A new message on a thread paused for consent: the person moved on without answering (or never
            # could, e.g. Ctrl-C at the prompt). The question counts as declined, so the pending call becomes an
            # audited denial ("consent declined") and the thread is usable again.
            from langgraph.types import Command

            resume = ConsentReply(granted=False, call_id=paused.call_id, note="a new message arrived before an answer")
            yield ConsentAnswerEvent(thread_id=thread_id, answer=resume)
            yield from self.drive(Command(resume=resume), thread_id, purpose, _decline, turn_seq=turn_seq)
            values = self.values(thread_id)  # declining the pending question changed the state
        with self._lock:
            registered = self.images.register(images, values.get("images", []), purpose=purpose)
            attached = registered.attached
            entry = self.deps.audit.images_attached(
                actor=self.deps.settings.actor, session_id=thread_id, purpose=purpose, images=[h.ref for h in attached]
            )
            start = new_turn_state(values, registered, purpose=purpose, session_id=thread_id,
                               human_present=human_present, text=text)  # fmt: skip
        audit_id = entry.audit_id if entry is not None else None
        yield UserEvent(thread_id=thread_id, text=text, images=attached, audit_id=audit_id)
        yield from self.drive(start, thread_id, purpose, handler, end, turn_seq=turn_seq)

    def resume(
        self, thread_id: str, answer: ConsentAnswers, handler: ConsentHandler | None, end: TurnEnd | None = None
    ) -> Iterator[AgentEvent]:
        """Answer the consent question ``thread_id`` is paused on and finish the turn (caller holds :meth:`turn`).

        ``answer``: each person's own (subject id -> answer), or one answer every person asked gave."""
        turn_seq = self.deps.store.audit.head()[0]
        snapshot = self.graph.get_state(self.config(thread_id))
        _require_typed(_values(snapshot), thread_id)
        request = self.pending_request(snapshot, thread_id)
        if request is None:
            raise self._not_paused(thread_id)
        from langgraph.types import Command

        resume = self._record_or_decline(request, answer)
        yield ConsentAnswerEvent(thread_id=thread_id, answer=resume)
        purpose = str(_values(snapshot).get("purpose"))
        yield from self.drive(Command(resume=resume), thread_id, purpose, handler, end, turn_seq=turn_seq)

    def drive(
        self,
        graph_input: Any,
        thread_id: str,
        purpose: str,
        handler: ConsentHandler | None,
        end: TurnEnd | None = None,
        *,
        turn_seq: int | None = None,
    ) -> Iterator[AgentEvent]:
        """Run the graph on ``graph_input``; ``turn_seq``: the audit head when the turn began (the checkpointer's
        erasure guard looks at the rows this turn wrote after it)."""
        try:
            yield from self._run(graph_input, thread_id, handler, turn_seq)
        finally:
            # The turn is over (finished, denied, or failed): probe pixels do not outlive it. A run paused for
            # consent keeps them, since the call waiting for the answer needs them. One state read serves all
            # (the reply too: reading the state again costs a checkpoint load).
            snapshot = self.graph.get_state(self.config(thread_id))
            if end is not None:
                end.values = _values(snapshot)
            if not (snapshot.next and self.pending_request(snapshot, thread_id) is not None):
                handles = _values(snapshot).get("images", [])
                self.images.forget_probes(handles)
                self.images.forget_unconsented(handles, purpose)

    def _run(
        self, graph_input: Any, thread_id: str, handler: ConsentHandler | None, turn_seq: int | None
    ) -> Iterator[AgentEvent]:
        config = self.config(thread_id)
        if turn_seq is not None:
            config["configurable"] = {**config.get("configurable", {}), "turn_seq": turn_seq}
        while True:
            # durability="exit": one checkpoint write per run (and at an interrupt), not one per graph step.
            interrupted = False
            for chunk in self.graph.stream(graph_input, config, stream_mode="updates", durability="exit"):
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        interrupted = True
                        continue
                    yield from events_of(node, update or {}, thread_id)
            if not interrupted:  # only a pause needs the state (a state read per turn is ~10% of the overhead)
                return
            request = self.pending_request(self.graph.get_state(config), thread_id)
            if request is None:
                return
            yield ConsentRequestEvent(thread_id=thread_id, request=request)
            answers = ask_each(request, handler) if handler is not None else None
            if answers is None:
                return  # the caller answers later with resume()
            from langgraph.types import Command

            resume = self._record_or_decline(request, answers)
            if self.pending_request(self.graph.get_state(config), thread_id) is None:
                raise self._not_paused(thread_id)  # asking took time: the thread may be gone (an erasure) meanwhile
            yield ConsentAnswerEvent(thread_id=thread_id, answer=resume)
            graph_input = Command(resume=resume)

    def _not_paused(self, thread_id: str) -> FacegateError:
        """Why a thread that should wait for a consent answer does not: deleted because someone it names was
        erased (:class:`ErasedDuringTurn`), or it was never paused or is answered already. Resuming it would start
        a run with no state."""
        erased = self.deps.store.erased_after_naming(thread_id)
        if erased:
            return ErasedDuringTurn.of(thread_id, erased)
        return UserError(f"thread {thread_id} is not waiting for consent", thread_id=thread_id)

    @contextlib.contextmanager
    def turn(self, thread_id: str) -> Iterator[None]:
        """Hold the thread's lock for one run; other runs on the same thread wait (other threads do not).

        A run started again on the same thread from inside itself (a consent handler asking on the same thread)
        would wait for itself: that is refused instead.
        """
        me = threading.get_ident()
        with self._lock:
            lock = self._thread_locks.setdefault(thread_id, threading.Lock())
            if self._thread_owners.get(thread_id) == me:
                raise UserError(f"a turn is already running on thread {thread_id}", thread_id=thread_id)
        lock.acquire()
        try:
            with self._lock:
                self._thread_owners[thread_id] = me
            yield
        finally:
            with self._lock:
                self._thread_owners.pop(thread_id, None)
            lock.release()

    # --- consent --------------------------------------------------------------------------------------------

    def _record_or_decline(self, request: ConsentRequest, answers: ConsentAnswers) -> ConsentReply:
        """Record each person's own consent; if one cannot be recorded, the run resumes as declined."""
        return record_or_decline(
            self.deps, answers, decision=request.decision, call_id=request.call_id, thread_id=request.thread_id,
            actor=self.deps.settings.actor,
        )  # fmt: skip


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Run a blocking iterator in a worker thread and yield its items as they come (errors re-raised here)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[T | BaseException | _Done] = asyncio.Queue()
    done = _Done()

    def work() -> None:
        try:
            for item in make():
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    task = loop.run_in_executor(None, work)
    while True:
        item = await queue.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            await task
            raise item
        yield cast(T, item)
    await task


class _Done:
    """The end-of-stream marker of :func:`iterate_in_thread` (None could be an item)."""


def _require_typed(values: AgentState, thread_id: str) -> None:
    """Refuse, with a clear error, a thread saved by a facegate whose state held plain dicts (before typed state):
    it cannot be continued, and nothing of it is changed (its audit rows and checkpoints stay as they are)."""
    saved: list[object] = [*values.get("images", []), *values.get("transcript", []), *values.get("pending", [])]
    if any(isinstance(item, dict) for item in saved):
        raise UserError(
            f"thread {thread_id} was saved by an earlier facegate version and cannot be continued; "
            "start a new thread (its audit rows are kept)",
            thread_id=thread_id,
        )


def _values(snapshot: StateSnapshot) -> AgentState:
    """A snapshot's values as the graph's state type (LangGraph hands them over untyped)."""
    return cast(AgentState, snapshot.values or {})


def ask_each(request: ConsentRequest, handler: ConsentHandler) -> dict[str, ConsentAnswer] | None:
    """Ask every person the request names, one at a time, each about their own consent only; None as soon as
    one answer is left for later (the caller then answers the whole request with ``resume``)."""
    answers: dict[str, ConsentAnswer] = {}
    for subject in request.subjects:
        answer = handler(request.for_subject(subject))
        if answer is None:
            return None
        answers[subject] = answer
    return answers


def _decline(request: ConsentRequest) -> ConsentAnswer:
    """The consent handler of a question nobody will answer any more: declined."""
    return ConsentAnswer(granted=False)
