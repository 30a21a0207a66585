"""Memory soak: is a long-lived engine's resident memory flat over thousands of calls?

One process, one :class:`tools.engine.FaceEngine` with the embedding cache OFF (so every call decodes, detects and
embeds both images: the worst case for leaks), cycling over the images of a pair list, photo sizes mixed. The
resident set (``VmRSS``) is sampled every ``sample_every`` calls; the report gives the level after warm-up, the
end level, the peak (``peak_rss_mb``) and the least-squares slope after warm-up in MB per 1,000 calls.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from evals.errors import EvalError
from evals.executors import ProgressFn, progress_fn
from tools.errors import FacegateError

if TYPE_CHECKING:
    from agent.settings import Settings


class SoakReport(BaseModel):
    calls: int
    failed_calls: int
    images: int
    largest_image_px: int
    warmup_calls: int
    rss_after_warmup_mb: float
    rss_end_mb: float
    peak_rss_mb: float
    slope_mb_per_1000_calls: float
    elapsed_s: float
    samples: list[tuple[int, float]]


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _slope(points: list[tuple[int, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def _images(pairs_file: Path, root: Path) -> list[Path]:
    from evals.datasets import read_pairs, resolve

    pairs = read_pairs(pairs_file, root)  # one-line errors; no path may lead out of root
    names = sorted({p.img1 for p in pairs} | {p.img2 for p in pairs})
    return [resolve(root, n) for n in names]


def run_soak(
    settings: Settings,
    pairs_file: Path,
    root: Path,
    *,
    calls: int = 2000,
    sample_every: int = 25,
    warmup_calls: int = 50,
    progress: ProgressFn | None = None,
) -> SoakReport:
    """Run ``calls`` verifications in this process and measure its resident memory; ``progress`` hears
    (stage, done, total) at every sample."""
    from PIL import Image

    from evals.workers import peak_rss_mb
    from tools.engine import FaceEngine

    images = _images(pairs_file, root)
    if len(images) < 2:
        raise EvalError("the soak needs at least two images")
    largest = 0
    for path in images:
        with Image.open(path) as im:
            largest = max(largest, max(im.size))
    engine = FaceEngine(settings.model_copy(update={"embedding_cache_size": 0}))
    samples: list[tuple[int, float]] = []
    report = progress_fn(progress)
    report("verifications", 0, calls)
    failed = 0
    started = time.perf_counter()
    for i in range(calls):
        a, b = images[i % len(images)], images[(i * 7 + 3) % len(images)]
        try:
            engine.verify(a, b)
        except FacegateError:
            failed += 1  # no face in an augmented variant: the call still went through decode and detection
        if (i + 1) % sample_every == 0 or i + 1 == calls:
            samples.append((i + 1, _rss_mb()))
            report("verifications", i + 1, calls)
    after = [s for s in samples if s[0] >= warmup_calls] or samples
    return SoakReport(
        calls=calls,
        failed_calls=failed,
        images=len(images),
        largest_image_px=largest,
        warmup_calls=warmup_calls,
        rss_after_warmup_mb=round(after[0][1], 1),
        rss_end_mb=round(samples[-1][1], 1),
        # the kernel's high-water mark is updated lazily: it can trail the RSS just sampled
        peak_rss_mb=round(max(peak_rss_mb(), *(r for _, r in samples)), 1),
        slope_mb_per_1000_calls=round(_slope(after) * 1000, 2),
        elapsed_s=round(time.perf_counter() - started, 1),
        samples=[(c, round(r, 1)) for c, r in samples],
    )


def write_report(report: SoakReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(report.model_dump(mode="json"), indent=2), encoding="utf-8")
    lines = [
        "# Memory soak",
        "",
        f"{report.calls} verifications in one process, embedding cache off, over {report.images} images "
        f"(largest {report.largest_image_px} px); {report.failed_calls} calls found no face.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| resident after {report.warmup_calls} warm-up calls | {report.rss_after_warmup_mb} MB |",
        f"| resident at the end | {report.rss_end_mb} MB |",
        f"| peak resident | {report.peak_rss_mb} MB |",
        f"| slope after warm-up | {report.slope_mb_per_1000_calls} MB per 1,000 calls |",
        f"| time | {report.elapsed_s} s |",
    ]
    (out / "soak.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
