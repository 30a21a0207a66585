"""What runs inside an evaluation worker: one FaceEngine per worker process, built once and kept (models stay
loaded), fed chunks of image paths. Used by the local process pool and by the Ray actors alike.

Per-image failures (no face, unreadable file) are returned as outcomes, not raised: an evaluation counts and
lists them. Failures of the engine itself (weights missing, backend broken) are returned flagged ``fatal`` and
the caller stops the run, since every other image would fail the same way.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from tools.engine import FaceEngine
    from tools.settings import EngineSettings

Task = Literal["embed", "expression"]


class ImageOutcome(BaseModel):
    path: str
    ok: bool
    elapsed_ms: float
    vector: list[float] | None = Field(default=None, repr=False)  # embed: the face embedding (never logged)
    faces_in_image: int | None = None
    expression: str | None = None  # expression: the dominant expression of the largest face
    scores: dict[str, float] | None = None
    detector: str | None = None
    provenance: str | None = None  # embed: the C2PA state of the file's bytes (trusted, untrusted, absent, ...)
    error_code: str | None = None
    error: str | None = None
    fatal: bool = False


class ChunkResult(BaseModel):
    outcomes: list[ImageOutcome]
    pid: int
    peak_rss_mb: float  # this worker's peak resident set so far
    threshold: float | None = None  # embed: the engine's threshold (so the parent need not load DeepFace)
    threshold_source: str | None = None  # embed: "setting", "calibration" or "model"


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB.

    For this process psutil's ``peak_rss`` where the installed psutil has it (``memory_info_ex``, newer than
    7.2), else ``getrusage``'s ``ru_maxrss`` (KiB on Linux, bytes on macOS). On Linux ``ru_maxrss`` starts, after
    ``exec``, at the RSS the parent had when it forked: a worker spawned by a parent larger than the worker would
    report the parent's size. The evaluation parents are smaller than their workers (measured: parent ~95 MiB
    at spawn, workers 250-300 MiB), so the figure is the worker's own.
    """
    if who == resource.RUSAGE_SELF:
        import psutil

        extended = getattr(psutil.Process(), "memory_info_ex", None)
        peak = getattr(extended(), "peak_rss", None) if callable(extended) else None
        if isinstance(peak, int) and peak > 0:
            return peak / 2**20
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


class EngineWorker:
    """Holds one engine; processes chunks. A plain class so the process pool and Ray share it."""

    def __init__(self, settings: EngineSettings) -> None:
        from tools.engine import FaceEngine
        from tools.provenance import ProvenanceChecker

        self.engine: FaceEngine = FaceEngine(settings)
        self.provenance = ProvenanceChecker(settings)

    def run(self, task: Task, paths: list[str]) -> ChunkResult:
        outcomes = [self._one(task, p) for p in paths]
        threshold = source = None
        if task == "embed" and any(o.ok for o in outcomes):
            threshold, source = self.engine.threshold_and_source()
        return ChunkResult(
            outcomes=outcomes, pid=os.getpid(), peak_rss_mb=peak_rss_mb(), threshold=threshold, threshold_source=source
        )

    def _one(self, task: Task, path: str) -> ImageOutcome:
        from tools.errors import FacegateError, ModelError

        start = time.perf_counter()
        try:
            if task == "embed":
                # the file read once: its provenance checked on the bytes as stored, the same bytes embedded
                to_decode, report = self.provenance.check_source(path)
                emb = self.engine.embed(to_decode)
                return ImageOutcome(
                    path=path,
                    ok=True,
                    elapsed_ms=(time.perf_counter() - start) * 1000,
                    vector=list(emb.vector),
                    faces_in_image=emb.faces_in_image,
                    detector=emb.detector,
                    provenance=report.state if report is not None else "not_checked",
                )
            res = self.engine.analyze_expression(path)
            elapsed = (time.perf_counter() - start) * 1000
            if not res.faces:
                return ImageOutcome(
                    path=path,
                    ok=False,
                    elapsed_ms=elapsed,
                    error_code="face_not_found",
                    error="no face found",
                )
            face = max(res.faces, key=lambda f: f.box.w * f.box.h)  # the largest face is the labelled one
            return ImageOutcome(
                path=path,
                ok=True,
                elapsed_ms=elapsed,
                expression=face.dominant,
                scores=dict(face.scores),
                faces_in_image=len(res.faces),
                detector=res.detector,
            )
        except ModelError as exc:
            return ImageOutcome(
                path=path,
                ok=False,
                elapsed_ms=(time.perf_counter() - start) * 1000,
                error_code=exc.code,
                error=exc.message,
                fatal=True,
            )
        except FacegateError as exc:
            return ImageOutcome(
                path=path,
                ok=False,
                elapsed_ms=(time.perf_counter() - start) * 1000,
                error_code=exc.code,
                error=exc.message,
            )
        except Exception as exc:  # an eval must count a crash on one image, not lose the whole run to it
            return ImageOutcome(
                path=path,
                ok=False,
                elapsed_ms=(time.perf_counter() - start) * 1000,
                error_code="unexpected_error",
                error=f"{type(exc).__name__}: {exc}",
            )


# --- process-pool plumbing: one worker object per process, built by the pool's initializer -------------

_WORKER: EngineWorker | None = None


def init_process(settings: EngineSettings) -> None:
    global _WORKER
    _WORKER = EngineWorker(settings)


def run_in_process(task: Task, paths: list[str]) -> ChunkResult:
    if _WORKER is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialised")
    return _WORKER.run(task, paths)
