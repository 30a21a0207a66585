"""The SDK facade: :class:`FaceAgent`.

A session's purpose is an argument of the caller, never the model's: a thread keeps the purpose it started with,
and asking with another purpose on an existing thread is a :class:`UserError`. Images are loaded through the
engine (which hashes them), kept in an in-process vault, and only handles ``{handle, sha256, subject}`` enter
the graph's state. When a run pauses for consent (a person is present), a ``consent_handler`` asks the person;
the consent is recorded here through :mod:`agent.consent` (never by the model) and the run resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.images_vault import ImageVault
from agent.nodes import AgentDeps, EngineLike, utcnow
from agent.reasoners.base import Reasoner, ReasonerContext
from agent.state import DecisionInfo, ImageHandle, ToolOutcome, Turn, Usage, dump
from tools.errors import ConsentRequired, UnknownPurpose, UserError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from agent.policy import Policy
    from agent.settings import Settings
    from agent.store import AuditEntry, Store


class ImageInput(BaseModel):
    """An image to attach: a path, bytes (or an array), and the subject the caller says it shows (None: probe)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    source: Any = Field(repr=False)
    subject: str | None = None


class DecisionRecord(BaseModel):
    """One policy decision made during a turn."""

    call_id: str
    tool: str
    outcome: Literal["allow", "deny", "needs_consent"]
    rule_id: str
    reason: str
    audit_id: str | None = None


class ConsentRequest(BaseModel):
    """What a paused run asks a person: the consents missing for one tool call, and the decision."""

    thread_id: str
    call_id: str
    tool: str
    purpose: str
    args: dict[str, Any] = Field(default_factory=dict)
    missing: list[dict[str, Any]] = Field(default_factory=list)
    decision: dict[str, Any] = Field(default_factory=dict)


class ConsentAnswer(BaseModel):
    """A person's answer. ``granted`` True: record consent for every missing item with this notice/evidence."""

    granted: bool
    notice: str | None = None
    evidence_method: str = "verbal, recorded by the operator during the session"
    evidence_reference: str | None = None
    term_days: int = Field(default=30, gt=0)


ConsentHandler = Callable[[ConsentRequest], ConsentAnswer | None]


class AgentEvent(BaseModel):
    """Something that happened in a run, as it happens (``stream``)."""

    kind: Literal["user", "tool_calls", "decision", "tool_result", "consent_request", "consent_answer", "answer"]
    thread_id: str
    data: dict[str, Any] = Field(default_factory=dict)


class AgentReply(BaseModel):
    """The result of one ``ask``: the answer and everything that happened in the turn."""

    thread_id: str
    purpose: str
    answer: str
    status: Literal["done", "awaiting_consent"] = "done"
    tool_outcomes: list[ToolOutcome] = Field(default_factory=list)
    decisions: list[DecisionRecord] = Field(default_factory=list)
    audit_ids: list[str] = Field(default_factory=list)
    images: list[ImageHandle] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    consent_request: ConsentRequest | None = None


def build_deps(
    settings: Settings,
    *,
    reasoner: Reasoner | None = None,
    engine: EngineLike | None = None,
    store: Store | None = None,
    policy: Policy | None = None,
    vault: ImageVault | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AgentDeps:
    """Everything the graph needs, from settings; explicit arguments win (tests, evals)."""
    from agent.policy import load_policy
    from agent.reasoners import make_reasoner

    if store is None:
        from agent.store import Store

        store = Store.open(settings.resolved_db_path)  # creates its folder owner-only
    if engine is None:
        from tools.engine import FaceEngine

        engine = FaceEngine(settings)
    return AgentDeps(
        settings=settings,
        reasoner=reasoner or make_reasoner(settings),
        policy=policy or load_policy(settings.policy_file),
        store=store,
        engine=engine,
        vault=vault or ImageVault(),
        clock=clock or utcnow,
    )


def sqlite_checkpointer(path: Path) -> Any:
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
    return SqliteSaver(conn)


class FaceAgent:
    """Consent-gated face analysis behind a conversation.

    Args:
        settings: the one settings object (default: from the environment).
        reasoner, engine, store, policy: override what settings would build (tests, evals).
        checkpointer: a LangGraph saver; default SQLite at ``settings.resolved_checkpoint_path``;
            ``"memory"`` for an in-memory one.
        human_present: default for ``ask``: whether a person can be asked for consent during a run.
        consent_handler: default for ``ask``: asks the person when a run pauses for consent.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        reasoner: Reasoner | None = None,
        engine: EngineLike | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        checkpointer: Any = None,
        human_present: bool = False,
        consent_handler: ConsentHandler | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from agent.graph import build_graph
        from agent.settings import Settings

        self.settings = settings or Settings()  # type: ignore[call-arg]  # fields have defaults
        self._own_store = store is None
        self.deps = build_deps(self.settings, reasoner=reasoner, engine=engine, store=store, policy=policy, clock=clock)
        if checkpointer is None:
            checkpointer = sqlite_checkpointer(self.settings.resolved_checkpoint_path)
        elif checkpointer == "memory":
            from langgraph.checkpoint.memory import InMemorySaver

            checkpointer = InMemorySaver()
        self.checkpointer = checkpointer
        self.graph = build_graph(self.deps, checkpointer=checkpointer)
        self.human_present = human_present
        self.consent_handler = consent_handler
        self._lock = threading.RLock()
        # One run at a time per thread: two turns on one thread would each start from the same checkpoint and the
        # later write would drop the other's history. Held for a whole run (see _turn).
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_owners: dict[str, int] = {}
        # subject label -> sha256 of the images attached for them in this process (to forget on revocation/erasure)
        self._subject_images: dict[str, set[str]] = {}

    # --- construction helpers -------------------------------------------------------------------------

    @classmethod
    def for_eval(
        cls,
        settings: Settings,
        *,
        reasoner: Reasoner | None = None,
        engine: EngineLike | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> FaceAgent:
        """An agent for evaluations: in-memory checkpoints, nobody present to consent (needs-consent = deny)."""
        return cls(
            settings, reasoner=reasoner, engine=engine, store=store, policy=policy, checkpointer="memory",
            clock=clock,
        )  # fmt: skip

    @property
    def store(self) -> Store:
        return self.deps.store

    @property
    def policy(self) -> Policy:
        return self.deps.policy

    @property
    def engine(self) -> EngineLike:
        return self.deps.engine

    @property
    def reasoner(self) -> Reasoner:
        return self.deps.reasoner

    def close(self) -> None:
        conn = getattr(self.checkpointer, "conn", None)
        if conn is not None:
            conn.close()
        if self._own_store:
            self.deps.store.close()

    def __enter__(self) -> FaceAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- set-up the operator (not the model) does ------------------------------------------------------

    def grant_consent(
        self,
        subject_id: str,
        *,
        capabilities: Sequence[str],
        purposes: Sequence[str],
        notice: str,
        evidence_method: str = "signed form",
        evidence_reference: str | None = None,
        term_days: int = 365,
        recorded_by: str | None = None,
    ) -> Any:
        """Record a person's consent (through :mod:`agent.consent`). Returns the ConsentRecord."""
        from agent import consent

        return consent.grant_consent(
            self.store,
            self.policy,
            subject_id=subject_id,
            capabilities=capabilities,
            purposes=purposes,
            notice=notice,
            evidence_method=evidence_method,
            recorded_by=recorded_by or self.settings.actor,
            evidence_reference=evidence_reference,
            term_days=term_days,
            actor=self.settings.actor,
            now=self.deps.clock(),
        )

    def revoke_consent(self, subject_id: str, *, capability: str | None = None) -> list[Any]:
        """Withdraw a person's consent at once (through :mod:`agent.consent`).

        The images attached for the person in this process are forgotten too (pixels and cached embeddings):
        a conversation that still needs one must attach it again, and is decided again.
        """
        from agent import consent

        revoked = consent.revoke_consent(
            self.store, subject_id=subject_id, actor=self.settings.actor, capability=capability,
            now=self.deps.clock(),
        )  # fmt: skip
        self._forget_subject(subject_id)
        return revoked

    def export_subject(self, subject_id: str, *, include_templates: bool = False) -> dict[str, Any]:
        """Everything held about a person (GDPR Art. 15/20), through :func:`agent.subjects.export_subject`."""
        from agent.subjects import export_subject

        return export_subject(
            self.store, subject_id, actor=self.settings.actor, include_templates=include_templates,
            now=self.deps.clock(),
        )  # fmt: skip

    def erase_subject(self, subject_id: str) -> dict[str, Any]:
        """Erase a person (GDPR Art. 17): templates, consents, their conversations, and the images and
        embeddings this process holds for them (through :func:`agent.subjects.erase_subject_everywhere`)."""
        from agent.subjects import erase_subject_everywhere

        return erase_subject_everywhere(
            self.store, self.settings, subject_id, actor=self.settings.actor, now=self.deps.clock(),
            checkpointer=self.checkpointer, cleaners=[self._forget_subject],
        )  # fmt: skip

    def enroll(self, subject_id: str, image: Any, *, purpose: str) -> Any:
        """Enroll a consenting person's face template (through :mod:`agent.enrollment`)."""
        from agent.enrollment import enroll

        result = enroll(
            self.store, self.engine, self.policy,  # type: ignore[arg-type]
            subject_id=subject_id, image=image, purpose=purpose, actor=self.settings.actor,
            now=self.deps.clock(),
        )  # fmt: skip
        # the enrolment photo is the person's too: erasure and revocation forget what this process holds of it
        with self._lock:
            self._subject_images.setdefault(subject_id, set()).add(result.image_sha256)
        return result

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
        events = list(
            self.stream(
                text, purpose=purpose, images=images, thread_id=thread_id, human_present=human_present,
                consent_handler=consent_handler,
            )
        )  # fmt: skip
        return self._reply(events)

    def resume(
        self, thread_id: str, answer: ConsentAnswer, *, consent_handler: ConsentHandler | None = None
    ) -> AgentReply:
        """Answer a run paused for consent (status ``awaiting_consent``) and finish the turn."""
        return self._reply(list(self.stream_resume(thread_id, answer, consent_handler=consent_handler)))

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
        if purpose not in self.policy.purposes:
            raise UnknownPurpose(
                f"unknown purpose {purpose!r} (known: {', '.join(sorted(self.policy.purposes))})", purpose=purpose
            )
        _check_images(images)
        thread_id = thread_id or uuid.uuid4().hex
        with self._turn(thread_id):
            yield from self._stream(text, purpose, images, thread_id, human_present, consent_handler)

    def _stream(
        self,
        text: str,
        purpose: str,
        images: Sequence[ImageInput],
        thread_id: str,
        human_present: bool | None,
        consent_handler: ConsentHandler | None,
    ) -> Iterator[AgentEvent]:
        config = self._config(thread_id)
        with self._lock:
            snapshot = self.graph.get_state(config)
            values = snapshot.values or {}
            if values.get("purpose") not in (None, purpose):
                raise UserError(
                    f"thread {thread_id} was started for purpose {values['purpose']!r}; a conversation keeps "
                    f"its purpose: start a new thread for {purpose!r}",
                    thread_id=thread_id,
                )
            paused = self._pending_request(snapshot, thread_id) if snapshot.next else None
        if paused is not None:
            # A new message on a thread paused for consent: the person moved on without answering (or never
            # could, e.g. Ctrl-C at the prompt). The question counts as declined, so the pending call becomes an
            # audited denial ("consent declined") and the thread is usable again.
            from langgraph.types import Command

            resume = {"granted": False, "consent_ids": [], "note": "a new message arrived before an answer"}
            yield AgentEvent(kind="consent_answer", thread_id=thread_id, data={**resume, "call_id": paused.call_id})
            yield from self._drive(Command(resume=resume), thread_id, purpose, _decline)
        with self._lock:
            if paused is not None:  # declining the pending question changed the state
                values = self.graph.get_state(config).values or {}
            present = self.human_present if human_present is None else human_present
            known = [ImageHandle.model_validate(i) for i in values.get("images", [])]
            handles, attached = self._register(images, known)
            attach_audit = self._audit_attached(thread_id, purpose, attached)
            user = Turn(role="user", text=text, images=attached)
            start: dict[str, Any] = {
                "purpose": purpose,
                "session_id": thread_id,
                "human_present": present,
                "images": [dump(h) for h in handles],
                "transcript": [dump(user)],
                "pending": [],
                "allowed": {},
                "steps": 0,
                "awaiting": None,
                "consent_answer": None,
            }
            if "shared" not in values:
                start["shared"] = []
        user_data: dict[str, Any] = {"text": text, "images": [dump(h) for h in attached]}
        if attach_audit is not None:
            user_data["audit_id"] = attach_audit
        yield AgentEvent(kind="user", thread_id=thread_id, data=user_data)
        yield from self._drive(start, thread_id, purpose, consent_handler or self.consent_handler)

    def stream_resume(
        self, thread_id: str, answer: ConsentAnswer, *, consent_handler: ConsentHandler | None = None
    ) -> Iterator[AgentEvent]:
        """Resume a run paused for consent with a person's answer; yields the rest of the turn's events."""
        with self._turn(thread_id):
            yield from self._stream_resume(thread_id, answer, consent_handler)

    def _stream_resume(
        self, thread_id: str, answer: ConsentAnswer, consent_handler: ConsentHandler | None
    ) -> Iterator[AgentEvent]:
        config = self._config(thread_id)
        snapshot = self.graph.get_state(config)
        request = self._pending_request(snapshot, thread_id)
        if request is None:
            raise UserError(f"thread {thread_id} is not waiting for consent", thread_id=thread_id)
        from langgraph.types import Command

        resume = self._record_or_decline(request, answer)
        yield AgentEvent(kind="consent_answer", thread_id=thread_id, data=resume)
        purpose = str(snapshot.values.get("purpose"))
        yield from self._drive(Command(resume=resume), thread_id, purpose, consent_handler or self.consent_handler)

    async def aask(self, text: str, **kwargs: Any) -> AgentReply:
        """Async twin of :meth:`ask` (the graph runs in a worker thread)."""
        return await asyncio.to_thread(self.ask, text, **kwargs)

    async def astream(self, text: str, **kwargs: Any) -> AsyncIterator[AgentEvent]:
        """Async twin of :meth:`stream`: events arrive as the worker thread produces them."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[AgentEvent | BaseException | None] = asyncio.Queue()

        def work() -> None:
            try:
                for event in self.stream(text, **kwargs):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # handed to the consumer, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        task = loop.run_in_executor(None, work)
        while True:
            item = await queue.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                await task
                raise item
            yield item
        await task

    def thread_purpose(self, thread_id: str) -> str | None:
        values = self.graph.get_state(self._config(thread_id)).values or {}
        return values.get("purpose")

    def transcript(self, thread_id: str) -> list[Turn]:
        values = self.graph.get_state(self._config(thread_id)).values or {}
        return [Turn.model_validate(t) for t in values.get("transcript", [])]

    # --- internals ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _turn(self, thread_id: str) -> Iterator[None]:
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

    def _audit_attached(self, thread_id: str, purpose: str, attached: list[ImageHandle]) -> str | None:
        """One ``session`` audit row per turn naming the people whose images were attached to the thread.

        A conversation can hold someone's face without any tool running on it; this row is how their
        export and erasure (which find threads through audit rows naming them) find that conversation too.
        Probes name nobody: no row for them alone.
        """
        labelled = [h for h in attached if h.subject]
        if not labelled:
            return None
        from agent.nodes import audit_id_of
        from agent.store import AuditEvent

        entry = self.store.audit.append(
            AuditEvent(
                kind="session", actor=self.settings.actor, session_id=thread_id, purpose=purpose,
                subjects=sorted({h.subject for h in labelled if h.subject}), outcome="images_attached",
                input_hashes=[h.sha256 for h in labelled],
                summary={"event": "images_attached", "images": [{"handle": h.handle, "subject": h.subject}
                                                                for h in labelled]},
            )
        )  # fmt: skip
        return audit_id_of(entry)

    def _config(self, thread_id: str) -> RunnableConfig:
        # Recursion limit: each tool round is up to three graph steps (policy, consent, tools) plus reason.
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": 8 * self.settings.max_turn_steps + 20}

    def _register(
        self, images: Sequence[ImageInput], known: list[ImageHandle]
    ) -> tuple[list[ImageHandle], list[ImageHandle]]:
        """Load (and hash) each image through the engine, keep its pixels in the vault, and give it a handle.

        Returns every handle of the thread and the ones attached now. The same image with the same subject
        keeps its handle.
        """
        handles = list(known)
        attached: list[ImageHandle] = []
        for item in images:
            loaded = self.deps.engine.load(item.source)
            self.deps.vault.put(loaded)
            if item.subject is not None:
                self._subject_images.setdefault(item.subject, set()).add(loaded.sha256)
            handle = next((h for h in handles if h.sha256 == loaded.sha256 and h.subject == item.subject), None)
            if handle is None:
                handle = ImageHandle(handle=f"img{len(handles) + 1}", sha256=loaded.sha256, subject=item.subject)
                handles.append(handle)
            if handle not in attached:
                attached.append(handle)
        return handles, attached

    def _drive(
        self, graph_input: Any, thread_id: str, purpose: str, handler: ConsentHandler | None
    ) -> Iterator[AgentEvent]:
        try:
            yield from self._drive_run(graph_input, thread_id, purpose, handler)
        finally:
            # The turn is over (finished, denied, or failed): probe pixels do not outlive it. A run paused for
            # consent keeps them, since the call waiting for the answer needs them. One state read serves all.
            snapshot = self.graph.get_state(self._config(thread_id))
            if not (snapshot.next and self._pending_request(snapshot, thread_id) is not None):
                handles = [ImageHandle.model_validate(i) for i in (snapshot.values or {}).get("images", [])]
                self._forget_probes(handles)
                self._forget_unconsented(handles, purpose)

    def _forget_probes(self, handles: list[ImageHandle]) -> int:
        """Drop the pixels (vault) and cached embeddings (engine) of every probe image of the thread."""
        labelled = {h.sha256 for h in handles if h.subject is not None}
        probes = {h.sha256 for h in handles if h.subject is None} - labelled
        return sum(self._forget_image(sha) for sha in sorted(probes))

    def _forget_unconsented(self, handles: list[ImageHandle], purpose: str) -> int:
        """Drop the pixels and embeddings of labelled images whose person holds no active consent (any
        capability) for the session's purpose: nothing may be done with them, so they are not kept. They can
        be attached again once a consent is on record."""
        labelled = [h for h in handles if h.subject is not None]
        if not labelled:
            return 0
        now = self.deps.clock()
        records = self.store.consents_for_many({h.subject for h in labelled if h.subject})
        consenting = {r.subject_id for r in records if purpose in r.purposes and r.active_at(now)}
        keep = {h.sha256 for h in labelled if h.subject in consenting}
        drop = {h.sha256 for h in labelled} - keep
        return sum(self._forget_image(sha) for sha in sorted(drop))

    def _forget_subject(self, subject_id: str) -> int:
        """Drop the pixels and cached embeddings of the images attached for ``subject_id`` (a cleaner)."""
        with self._lock:
            shas = self._subject_images.pop(subject_id, set())
        return sum(self._forget_image(sha) for sha in sorted(shas))

    def _forget_image(self, sha: str) -> int:
        held = self.deps.vault.drop(sha)
        self.deps.engine.forget(sha)
        return int(held)

    def _drive_run(
        self, graph_input: Any, thread_id: str, purpose: str, handler: ConsentHandler | None
    ) -> Iterator[AgentEvent]:
        config = self._config(thread_id)
        while True:
            # durability="exit": one checkpoint write per run (and at an interrupt), not one per graph step.
            interrupted = False
            for chunk in self.graph.stream(graph_input, config, stream_mode="updates", durability="exit"):
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        interrupted = True
                        continue
                    yield from _events(node, update or {}, thread_id)
            if not interrupted:  # only a pause needs the state (a state read per turn is ~10% of the overhead)
                return
            snapshot = self.graph.get_state(config)
            request = self._pending_request(snapshot, thread_id)
            if request is None:
                return
            yield AgentEvent(kind="consent_request", thread_id=thread_id, data=dump(request))
            answer = handler(request) if handler is not None else None
            if answer is None:
                return  # the caller answers later with resume()
            from langgraph.types import Command

            resume = self._record_or_decline(request, answer)
            yield AgentEvent(kind="consent_answer", thread_id=thread_id, data=resume)
            graph_input = Command(resume=resume)

    def _pending_request(self, snapshot: Any, thread_id: str) -> ConsentRequest | None:
        interrupts = getattr(snapshot, "interrupts", ()) or ()
        if not interrupts:
            return None
        value = dict(interrupts[0].value)
        return ConsentRequest(
            thread_id=thread_id,
            call_id=str(value.get("call_id")),
            tool=str(value.get("tool")),
            purpose=str(value.get("purpose")),
            args=dict(value.get("args") or {}),
            missing=list(value.get("missing") or []),
            decision=dict(value.get("decision") or {}),
        )

    def _record_or_decline(self, request: ConsentRequest, answer: ConsentAnswer) -> dict[str, Any]:
        """Record the consent; if it cannot be recorded, the run resumes as declined (never stays stuck)."""
        from tools.errors import FacegateError

        try:
            return self._record(request, answer)
        except FacegateError as exc:
            return {"granted": False, "consent_ids": [], "error": exc.code, "message": exc.message}

    def _record(self, request: ConsentRequest, answer: ConsentAnswer) -> dict[str, Any]:
        """Record the person's consent (one record per subject) and build the resume value for the graph."""
        if not answer.granted:
            return {"granted": False, "consent_ids": []}
        if not request.missing:
            raise ConsentRequired("the paused decision names no missing consent to record", call_id=request.call_id)
        by_subject: dict[str, dict[str, set[str]]] = {}
        for item in request.missing:
            entry = by_subject.setdefault(str(item["subject_id"]), {"caps": set(), "purposes": set()})
            entry["caps"].add(str(item["capability"]))
            entry["purposes"].add(str(item["purpose"]))
        ids: list[str] = []
        for subject, want in by_subject.items():
            notice = answer.notice or (
                f"{subject} was told that facegate will use {', '.join(sorted(want['caps']))} on their face "
                f"for {', '.join(sorted(want['purposes']))}, and can withdraw at any time."
            )
            record = self.grant_consent(
                subject,
                capabilities=sorted(want["caps"]),
                purposes=sorted(want["purposes"]),
                notice=notice,
                evidence_method=answer.evidence_method,
                evidence_reference=answer.evidence_reference or f"thread {request.thread_id}",
                term_days=answer.term_days,
            )
            ids.append(record.id)
        return {"granted": True, "consent_ids": ids}

    def _reply(self, events: list[AgentEvent]) -> AgentReply:
        if not events:
            raise UserError("the run produced nothing")
        thread_id = events[0].thread_id
        values = self.graph.get_state(self._config(thread_id)).values or {}
        outcomes: list[ToolOutcome] = []
        decisions: list[DecisionRecord] = []
        audit_ids: list[str] = []
        answer = ""
        usage = Usage()
        request: ConsentRequest | None = None
        for ev in events:
            if ev.kind == "user" and ev.data.get("audit_id"):
                audit_ids.append(str(ev.data["audit_id"]))  # the row naming who was attached
            elif ev.kind == "decision":
                decisions.append(DecisionRecord.model_validate(ev.data))
                if ev.data.get("audit_id"):
                    audit_ids.append(str(ev.data["audit_id"]))
            elif ev.kind in ("tool_result",):
                outcome = ToolOutcome.model_validate(ev.data)
                outcomes.append(outcome)
                audit_ids.extend(a for a in outcome.audit_ids if a not in audit_ids)
            elif ev.kind == "answer":
                answer = str(ev.data.get("text", ""))
                usage = usage + Usage.model_validate(ev.data.get("usage") or {})
            elif ev.kind == "tool_calls":
                usage = usage + Usage.model_validate(ev.data.get("usage") or {})
            elif ev.kind == "consent_request":
                request = ConsentRequest.model_validate(ev.data)
            elif ev.kind == "consent_answer":
                request = None
        return AgentReply(
            thread_id=thread_id,
            purpose=str(values.get("purpose", "")),
            answer=answer,
            status="awaiting_consent" if request is not None else "done",
            tool_outcomes=outcomes,
            decisions=decisions,
            audit_ids=audit_ids,
            images=[ImageHandle.model_validate(i) for i in values.get("images", [])],
            usage=usage,
            consent_request=request,
        )


def _decline(request: ConsentRequest) -> ConsentAnswer:
    """The consent handler of a question nobody will answer any more: declined."""
    return ConsentAnswer(granted=False)


def _check_images(images: Sequence[ImageInput]) -> None:
    """Reject what must not reach the state or the audit log: non-ImageInput items, malformed subject labels."""
    import re

    from agent.store.models import SUBJECT_ID_PATTERN

    pattern = re.compile(SUBJECT_ID_PATTERN)
    for item in images:
        if not isinstance(item, ImageInput):
            raise UserError("images must be ImageInput(source=..., subject=...)")
        if item.subject is not None and not pattern.fullmatch(item.subject):
            # repr(): control characters and newlines are shown escaped, the message stays one line
            shown = repr(item.subject)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise UserError(
                f"invalid subject label {shown}: use 1-128 letters, digits and . _ : @ -, starting with a letter "
                "or digit (or no subject for a probe)"
            )


def _events(node: str, update: dict[str, Any], thread_id: str) -> Iterator[AgentEvent]:
    """Turn one node's state update into SDK events."""
    turns = [Turn.model_validate(t) for t in update.get("transcript", [])]
    if node == "reason":
        # decisions made outside tool calls: images disclosed to or withdrawn from the model, a withheld answer
        for record in update.get("decisions") or []:
            yield AgentEvent(kind="decision", thread_id=thread_id, data=dict(record))
        for turn in turns:
            if turn.tool_calls:
                yield AgentEvent(
                    kind="tool_calls",
                    thread_id=thread_id,
                    data={
                        "calls": [dump(c) for c in turn.tool_calls],
                        "text": turn.text,
                        "usage": update.get("last_usage"),
                    },
                )
            else:
                yield AgentEvent(
                    kind="answer",
                    thread_id=thread_id,
                    data={"text": turn.text or "", "usage": update.get("last_usage")},
                )
        return
    if node == "policy":
        for call_id, grant in (update.get("allowed") or {}).items():
            info = DecisionInfo.model_validate(grant)
            yield _decision_event(thread_id, call_id, str(grant.get("tool", "")), info, grant.get("audit_id"))
        awaiting = update.get("awaiting")
        if awaiting:
            info = DecisionInfo.model_validate(awaiting["decision"])
            yield _decision_event(thread_id, awaiting["call_id"], awaiting["tool"], info, awaiting.get("audit_id"))
        for turn in turns:
            o = turn.outcome
            if o is None:
                continue
            if o.decision is not None:
                yield _decision_event(thread_id, o.call_id, o.tool, o.decision, o.audit_ids[0] if o.audit_ids else None)
            yield AgentEvent(kind="tool_result", thread_id=thread_id, data=dump(o))
        return
    if node == "tools":
        for turn in turns:
            if turn.outcome is not None:
                yield AgentEvent(kind="tool_result", thread_id=thread_id, data=dump(turn.outcome))
        return


def _decision_event(thread_id: str, call_id: str, tool: str, info: DecisionInfo, audit_id: Any) -> AgentEvent:
    return AgentEvent(
        kind="decision",
        thread_id=thread_id,
        data={
            "call_id": call_id,
            "tool": tool,
            "outcome": info.outcome,
            "rule_id": info.rule_id,
            "reason": info.reason,
            "audit_id": str(audit_id) if audit_id is not None else None,
        },
    )


__all__ = [
    "AgentEvent",
    "AgentReply",
    "ConsentAnswer",
    "ConsentHandler",
    "ConsentRequest",
    "DecisionRecord",
    "FaceAgent",
    "ImageInput",
    "ReasonerContext",
    "build_deps",
    "sqlite_checkpointer",
]
