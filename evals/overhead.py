"""How much the agent itself costs per turn: graph + policy + audit + checkpointing, without tool time.

:func:`measure_overhead` runs N turns of the offline reasoner against a no-op face engine (so the face models
are out of the picture) and reports the median wall time of a turn minus the time spent inside the engine.
``facegate eval bench`` calls it (``python -m evals.overhead`` prints it); nothing here asserts a threshold.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel

if TYPE_CHECKING:
    from agent.settings import Settings
    from agent.store import AuditEntry, AuditEvent, AuditLog
    from tools.images import ImageSource, LoadedImage
    from tools.results import EmbeddingRecipe, ExpressionResult, FaceEmbedding, VerificationResult
    from tools.settings import EngineSettings

SUBJECT = "bench_subject"
PURPOSE = "mfa"


class OverheadReport(BaseModel):
    """Per-turn timings in milliseconds (medians and 90th percentiles over ``turns``)."""

    turns: int
    checkpointer: str
    median_turn_ms: float
    median_tool_ms: float
    median_overhead_ms: float
    p90_overhead_ms: float
    median_no_tool_turn_ms: float
    median_audit_ms: float  # audit-log appends (2 per tool turn; the store fsyncs each one)
    median_graph_policy_ms: float  # overhead minus audit appends: graph, policy, reasoner, checkpoint
    target_ms: float = 5.0


class _TimedLog:
    """Wraps the store's audit log to time appends (the benchmark's view only; behaviour unchanged)."""

    def __init__(self, inner: AuditLog) -> None:
        self._inner = inner
        self.ms: list[float] = []

    def append(self, event: AuditEvent) -> AuditEntry:
        start = time.perf_counter()
        try:
            return self._inner.append(event)
        finally:
            self.ms.append((time.perf_counter() - start) * 1000)


class _NoOpEngine:
    """Answers instantly with fixed results: the benchmark measures everything but the face models."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def load(self, source: ImageSource) -> LoadedImage:
        from tools.images import load_image

        return load_image(source, self.settings)

    def embed(self, source: ImageSource, *, require_single_face: bool | None = None) -> FaceEmbedding:
        raise NotImplementedError  # pragma: no cover - the benchmark enrolls nobody

    def verify(
        self, a: ImageSource, b: ImageSource, *, require_single_face: bool | None = None, threshold: float | None = None
    ) -> VerificationResult:
        from tools.results import FaceBox, VerificationResult

        ia, ib = self.load(a), self.load(b)
        box = FaceBox(x=0, y=0, w=8, h=8)
        return VerificationResult(
            verified=True, distance=0.02, threshold=threshold or 0.07, metric="cosine", model="noop",
            detector="noop", box_a=box, box_b=box, faces_in_a=1, faces_in_b=1, used_largest_face=False,
            notes=[], elapsed_ms=0.0, image_a_sha256=ia.sha256, image_b_sha256=ib.sha256,
        )  # fmt: skip

    def verify_against_template(
        self,
        probe: ImageSource,
        template: Sequence[float],
        *,
        template_model: str,
        template_detector: str,
        threshold: float | None = None,
        template_recipe: EmbeddingRecipe | None = None,
        subject: str | None = None,
    ) -> VerificationResult:
        raise NotImplementedError  # pragma: no cover - the benchmark verifies pairs

    def analyze_expression(self, source: ImageSource) -> ExpressionResult:
        raise NotImplementedError  # pragma: no cover - the benchmark verifies pairs

    def default_threshold(self) -> float:
        return 0.07

    def model_threshold(self) -> float:
        return 0.07

    def forget(self, sha256: str) -> bool:
        return False


def measure_overhead(
    turns: int = 50,
    *,
    settings: Settings | None = None,
    checkpointer: Literal["memory", "sqlite"] = "sqlite",
    warmup: int = 3,
) -> OverheadReport:
    """Run ``turns`` tool turns and ``turns`` no-tool turns; report the agent's own time per turn.

    Args:
        turns: measured turns of each kind.
        settings: base settings (its home is replaced by a temporary folder; the reasoner is the offline one).
        checkpointer: "sqlite" (what the CLI uses) or "memory".
        warmup: unmeasured turns first (imports, first SQLite pages).
    """
    from agent.sdk import FaceAgent, ImageInput
    from agent.settings import Settings

    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        base = settings or Settings()
        cfg = base.model_copy(
            update={
                "home": Path(tmp),
                "reasoner": "offline",
                "db_path": None,
                "checkpoint_path": None,
                "database_url": None,
            }
        )
        engine = _NoOpEngine(cfg)
        agent = FaceAgent(cfg, engine=engine, checkpointer=None if checkpointer == "sqlite" else "memory")
        audit = _TimedLog(agent.store.audit)
        agent.store.writer.log = audit
        try:
            agent.grant_consent(
                SUBJECT, capabilities=["face_verification"], purposes=[PURPOSE],
                notice="benchmark subject", evidence_method="benchmark",
            )  # fmt: skip
            rng = np.random.default_rng(0)
            images = [
                ImageInput(source=rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), subject=SUBJECT) for _ in range(2)
            ]
            thread = "bench"
            agent.ask("hello", purpose=PURPOSE, images=images, thread_id=thread)
            tool_turn, tool_ms, no_tool, audit_ms = [], [], [], []
            for i in range(warmup + turns):
                mark = len(agent.deps.tool_ms)
                audit_mark = len(audit.ms)
                start = time.perf_counter()
                agent.ask("compare img1 and img2", purpose=PURPOSE, thread_id=f"{thread}-{i}", images=images)
                total = (time.perf_counter() - start) * 1000
                spent = sum(agent.deps.tool_ms[mark:])
                appended = sum(audit.ms[audit_mark:])
                start = time.perf_counter()
                agent.ask("what can you do?", purpose=PURPOSE, thread_id=f"{thread}-{i}")
                idle = (time.perf_counter() - start) * 1000
                if i >= warmup:
                    tool_turn.append(total)
                    tool_ms.append(spent)
                    no_tool.append(idle)
                    audit_ms.append(appended)
        finally:
            agent.close()
    overhead = [t - s for t, s in zip(tool_turn, tool_ms, strict=True)]
    own = [o - a for o, a in zip(overhead, audit_ms, strict=True)]
    return OverheadReport(
        turns=turns,
        checkpointer=checkpointer,
        median_turn_ms=statistics.median(tool_turn),
        median_tool_ms=statistics.median(tool_ms),
        median_overhead_ms=statistics.median(overhead),
        p90_overhead_ms=_p90(overhead),
        median_no_tool_turn_ms=statistics.median(no_tool),
        median_audit_ms=statistics.median(audit_ms),
        median_graph_policy_ms=statistics.median(own),
    )


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


if __name__ == "__main__":  # pragma: no cover - a measurement, run by hand
    import sys

    print(measure_overhead(int(sys.argv[1]) if len(sys.argv) > 1 else 100).model_dump_json(indent=2))
