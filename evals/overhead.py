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
    from tools.results import (
        DetectionResult,
        EmbeddingRecipe,
        ExpressionResult,
        FaceEmbedding,
        FaceReference,
        VerificationResult,
    )
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
    images: str = "arrays"  # "arrays" (nothing to check) or "signed": C2PA-signed package photos
    median_provenance_ms: float | None = None  # signed: the C2PA check of one attached image, inside ask
    p90_provenance_ms: float | None = None


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

    def detect(self, source: ImageSource) -> DetectionResult:
        raise NotImplementedError  # pragma: no cover - the benchmark shares no image

    def embed(self, source: ImageSource, *, require_single_face: bool | None = None) -> FaceEmbedding:
        from tools.results import FaceBox, FaceEmbedding

        image = self.load(source)  # one face per image: what the face tools ask before they compare
        return FaceEmbedding(
            image_sha256=image.sha256, model="noop", detector="noop", aligned=False, vector=(1.0, 0.0),
            box=FaceBox(x=0, y=0, w=8, h=8), faces_in_image=1, used_largest_face=False,
        )  # fmt: skip

    def single_out(
        self, source: ImageSource, reference: FaceReference, *, threshold: float | None = None
    ) -> FaceEmbedding:
        raise NotImplementedError  # pragma: no cover - one face per image here

    def verify(
        self,
        a: ImageSource,
        b: ImageSource,
        *,
        require_single_face: bool | None = None,
        threshold: float | None = None,
        reference_a: FaceReference | None = None,
        reference_b: FaceReference | None = None,
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
        single_out: bool = False,
    ) -> VerificationResult:
        raise NotImplementedError  # pragma: no cover - the benchmark verifies pairs

    def analyze_expression(
        self,
        source: ImageSource,
        *,
        single: bool = False,
        reference: FaceReference | None = None,
        threshold: float | None = None,
    ) -> ExpressionResult:
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
    signed: bool = False,
) -> OverheadReport:
    """Run ``turns`` tool turns and ``turns`` no-tool turns; report the agent's own time per turn.

    Args:
        turns: measured turns of each kind.
        settings: base settings (its home is replaced by a temporary folder; the reasoner is the offline one).
        checkpointer: "sqlite" (what the CLI uses) or "memory".
        warmup: unmeasured turns first (imports, first SQLite pages).
        signed: attach two package photos signed with a throwaway C2PA chain whose root is the trust anchor
            (the purpose then requires a trusted capture), and report the provenance check's time per image
            as ``ask`` spends it; default: two small arrays, which have no original bytes to check.
    """
    from agent.sdk import FaceAgent, ImageInput
    from agent.settings import Settings

    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        base = settings or Settings()
        update: dict[str, object] = {
            "home": Path(tmp),
            "reasoner": "offline",
            "db_path": None,
            "checkpoint_path": None,
            "database_url": None,  # a FACEGATE_DATABASE_URL in the shell never points the bench at shared data
        }
        sources: list[object] = []
        if signed:
            sources, update["trust_anchors"] = _signed_photos(Path(tmp))
        cfg = base.model_copy(update=update)
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
            sources = sources or [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(2)]
            images = [ImageInput(source=source, subject=SUBJECT) for source in sources]
            thread = "bench"
            agent.ask("hello", purpose=PURPOSE, images=images, thread_id=thread)
            tool_turn, tool_ms, no_tool, audit_ms = [], [], [], []
            checks = agent.deps.provenance_ms
            for i in range(warmup + turns):
                if i == warmup:
                    del checks[:]  # the measured turns' checks only
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
        images="signed" if signed else "arrays",
        median_provenance_ms=statistics.median(checks) if checks else None,
        p90_provenance_ms=_p90(checks) if checks else None,
    )


def _signed_photos(folder: Path) -> tuple[list[object], Path]:
    """Two package photos signed by a throwaway chain, and the trust-anchor file of its root."""
    from tools.provenance.testchain import make_test_chain, sign_variant
    from tools.sample_photos import ensure_sample_photos

    photos = ensure_sample_photos(Path.home() / ".cache" / "facegate" / "test-photos")
    chain = make_test_chain(common_name="Bench camera", organization="facegate bench", root_name="Bench root")
    signed = [sign_variant((photos / name).read_bytes(), chain, "created") for name in ("obama.jpg", "obama2.jpg")]
    return list(signed), chain.write_anchors(folder / "anchors.pem")


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


if __name__ == "__main__":  # pragma: no cover - a measurement, run by hand
    import sys

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    report = measure_overhead(int(args[0]) if args else 100, signed="--signed" in sys.argv)
    print(report.model_dump_json(indent=2))
