"""One facegate worker process for the multi-worker tests: a :class:`FaceAgent` on the shared database (the
settings' ``FACEGATE_DATABASE_URL``: store, audit chain and LangGraph's PostgresSaver), the fake face engine and a
scripted reasoner, driven by one JSON command per line on stdin and answering one JSON line each on stdout.

``python -m tests.worker_proc NAME HOME`` (tests/multiworker.py starts and drives these).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from agent.policy import Capability, Evidence
from agent.sdk import ConsentAnswer, FaceAgent, ImageInput
from agent.settings import Settings
from agent.store import AuditEvent, ConsentGrant
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say


class GatedReasoner(ScriptedReasoner):
    """Scripted steps; a ``("wait", flag)`` step says "here" (``flag.here``) and blocks until ``flag`` exists,
    so that the test can act in another process between two steps of one turn."""

    def next_step(self, transcript: Any, tools: Any, context: Any) -> Any:
        while self.steps and isinstance(self.steps[0], tuple):
            _, flag = self.steps.pop(0)
            Path(f"{flag}.here").touch()
            deadline = time.monotonic() + 60
            while not Path(flag).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nobody raised {flag}")
                time.sleep(0.01)
        return super().next_step(transcript, tools, context)


def _steps(specs: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for kind, *rest in specs:
        if kind == "call":
            out.append(call(rest[0], **rest[1]))
        elif kind == "say":
            out.append(say(rest[0]))
        else:  # ["wait", flag]
            out.append(("wait", rest[0]))
    return out


class Worker:
    def __init__(self, name: str, home: Path) -> None:
        self.name = name
        self.settings = Settings(home=home, reasoner="offline", actor=name)  # database_url from the environment
        if self.settings.database_url is None:
            raise SystemExit("FACEGATE_DATABASE_URL is not set: a worker needs the shared database")
        self.engine = FakeFaceEngine(self.settings)
        self.reasoner = GatedReasoner()
        self.agent = FaceAgent(self.settings, engine=self.engine, reasoner=self.reasoner)

    def images(self, specs: list[dict[str, str]]) -> list[ImageInput]:
        """Attach files by path; the fake engine is told who each one shows (its label, as the parent made it)."""
        out = []
        for spec in specs:
            data = Path(spec["path"]).read_bytes()
            self.engine.people[hashlib.sha256(data).hexdigest()] = spec["person"]
            out.append(ImageInput(source=data, subject=spec.get("subject")))
        return out

    def reply(self, r: Any) -> dict[str, Any]:
        return {
            "thread": r.thread_id,
            "status": r.status,
            "purpose": r.purpose,
            "answer": r.answer,
            "decisions": [[d.outcome, d.rule_id] for d in r.decisions],
            "outcomes": [[o.tool, o.status, o.error_code] for o in r.tool_outcomes],
            "turns": sum(1 for t in self.agent.transcript(r.thread_id) if t.role == "user"),
        }

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op == "ask":
            self.reasoner.steps = _steps(cmd["steps"])
            r = self.agent.ask(cmd.get("text", "go"), purpose=cmd["purpose"], images=self.images(cmd["images"]),
                               thread_id=cmd.get("thread"), human_present=cmd.get("human_present", False))  # fmt: skip
            return self.reply(r)
        if op == "resume":
            self.reasoner.steps = _steps(cmd["steps"])
            return self.reply(self.agent.resume(cmd["thread"], ConsentAnswer(granted=cmd["granted"])))
        if op == "grant":
            record = self.agent.grant_consent(cmd["subject"], capabilities=cmd["caps"], purposes=cmd["purposes"],
                                              notice="v1", term_days=30)  # fmt: skip
            return {"consent": record.id}
        if op == "revoke":
            return {"revoked": [r.id for r in self.agent.revoke_consent(cmd["subject"])]}
        if op == "erase":
            return self.agent.erase_subject(cmd["subject"])
        if op == "thread":
            return {
                "turns": len(self.agent.transcript(cmd["thread"])),
                "purpose": self.agent.thread_purpose(cmd["thread"]),
            }
        if op == "stress":
            return self.stress(int(cmd["n"]), float(cmd["start"]), int(cmd.get("verify_every", 25)))
        raise ValueError(f"unknown op {op!r}")

    def stress(self, n: int, start: float, verify_every: int) -> dict[str, Any]:
        """Grant, append, revoke ``n`` times (3 audit rows each), verifying the chain now and then, all while the
        other workers do the same; every write's latency is kept."""
        store = self.agent.store
        grant = ConsentGrant(subject_id="x", capabilities=frozenset({Capability.FACE_VERIFICATION}),
                             purposes=frozenset({"customer_service"}), notice="v1",
                             evidence=Evidence(method="signed_form", recorded_by=self.name), term_days=30)  # fmt: skip
        latencies: list[float] = []
        verified = failed = 0
        while time.time() < start:  # every worker is up and spinning when the gun goes
            pass
        began = time.perf_counter()
        for i in range(n):
            subject = f"{self.name}-{i}"
            t0 = time.perf_counter()
            store.grant_consent(grant.model_copy(update={"subject_id": subject}), actor=self.name)
            t1 = time.perf_counter()
            store.audit.append(AuditEvent(kind="decision", actor=self.name, session_id=self.name, subjects=[subject],
                                          outcome="allow", summary={"i": i}))  # fmt: skip
            t2 = time.perf_counter()
            store.revoke_consent(subject, actor=self.name)
            t3 = time.perf_counter()
            latencies += [t1 - t0, t2 - t1, t3 - t2]
            if (i + 1) % verify_every == 0:
                report = store.audit.verify()
                verified += 1
                failed += not report.ok
        elapsed = time.perf_counter() - began
        ms = sorted(x * 1000 for x in latencies)
        return {
            "writes": len(latencies),
            "elapsed_s": round(elapsed, 3),
            "verified": verified,
            "verify_failures": failed,
            "median_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
            "latencies_ms": [round(x, 3) for x in ms],
        }


def main() -> None:
    worker = Worker(sys.argv[1], Path(sys.argv[2]))
    print(json.dumps({"ready": worker.name}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = worker.handle(json.loads(line))
        except Exception as exc:  # reported to the test, which fails on it
            out = {"error": type(exc).__name__, "message": str(exc)}
        print(json.dumps(out, default=str), flush=True)
    worker.agent.close()


if __name__ == "__main__":
    main()
