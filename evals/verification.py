"""Face-verification evaluation over an LFW-style pair list.

Each distinct image is embedded once (spread over worker processes that keep their models loaded); all pair
distances are then computed at once in numpy. Images that fail (no face, unreadable) are counted and listed;
pairs touching them are reported separately and, for one of the two accuracy figures, counted as wrong.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from evals import metrics
from evals.datasets import Pair
from evals.executors import ExecutorName, ProgressFn
from evals.groups import GroupTable, proportion, verification_groups
from evals.scoring import FailedImage, failure_counts, score_pairs, shipped_set_notes
from evals.summary import provenance_line
from evals.workers import ImageOutcome, peak_rss_mb
from tools.calibration import Proportion

if TYPE_CHECKING:
    from agent.settings import Settings

FAR_TARGETS = (1e-1, 1e-2, 1e-3)
NOT_ENOUGH = "not enough impostor pairs"


class VerificationReport(BaseModel):
    kind: str = "verification"
    n_pairs: int
    n_genuine_pairs: int
    n_impostor_pairs: int
    n_images: int
    n_scorable_pairs: int
    n_failed_pairs: int
    threshold: float
    threshold_source: str | None = None  # "setting", "calibration" or "model" (DeepFace's)
    accuracy: float | None  # over scorable pairs, at the configured threshold
    accuracy_counting_failures: float  # failed pairs counted as wrong
    confusion: dict[str, int]  # at the configured threshold, scorable pairs: tp, fp, tn, fn
    # at the configured threshold, scorable pairs, with Clopper-Pearson intervals: false match rate (impostor
    # pairs accepted) and false non-match rate (genuine pairs refused)
    fmr: Proportion | None = None
    fnmr: Proportion | None = None
    best_threshold: float | None
    best_accuracy: float | None
    auc: float | None
    eer: float | None
    tar_at_far: dict[str, float | str]
    failed_images: list[FailedImage]
    n_failed_images: int
    failed_by_code: dict[str, int] = Field(default_factory=dict)  # e.g. {"face_not_found": 3}
    groups: list[GroupTable] = Field(default_factory=list)  # one table per extra column of the pair list
    # distinct images by the C2PA state of their bytes (trusted, untrusted, invalid, absent, not_checked): an
    # operator's capture set should read all trusted; a failed image is not counted
    provenance: dict[str, int] = Field(default_factory=dict)
    elapsed_s: float
    embed_elapsed_s: float
    pairs_per_s: float
    images_per_s: float
    embed_ms_per_image: float  # mean time one worker spent per image (decode, detect, embed)
    peak_rss_mb: dict[str, Any]
    settings: dict[str, Any]
    dataset_sha256: str
    pairs_file: str
    root: str
    started_at: str
    notes: list[str] = Field(default_factory=list)
    audit: dict[str, Any] | None = None


def run_verification(
    settings: Settings,
    pairs_file: Path,
    root: Path,
    out: Path,
    *,
    workers: int | None = None,
    executor: ExecutorName = "local",
    ray_address: str | None = None,
    progress: ProgressFn | bool | None = None,
    audit: bool = True,
) -> VerificationReport:
    """Evaluate verification on ``pairs_file`` (paths relative to ``root``); write report.json, report.md,
    roc.png, pair_scores.csv (and groups.png when the list has group columns) into ``out``.

    Raises:
        EvalError: no image of the list exists under ``root``, or no pair could be scored (every pair touches
            an image that failed): there is no result to report, and a ROC drawn from nothing would look like one.
    """
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    scored = score_pairs(
        settings, pairs_file, root, workers=workers, executor=executor, ray_address=ray_address, progress=progress
    )
    pairs, scorable, dist, same = scored.pairs, scored.scorable, scored.dist, scored.same
    failed, stats, digest, outcomes = scored.failed, scored.stats, scored.digest, scored.outcomes
    threshold, source = scored.threshold, scored.threshold_source
    rel_images = scored.images

    report = _build_report(
        settings=settings,
        pairs=pairs,
        scorable=scorable,
        dist=dist,
        same=same,
        threshold=threshold,
        failed=failed,
        n_images=len(rel_images),
        embed_ms=[o.elapsed_ms for o in outcomes.values()],
        stats_elapsed=stats.elapsed_s,
        worker_rss=stats.worker_peak_rss_mb,
        sampled_total=stats.sampled_total_rss_mb,
        sampled_pss=stats.sampled_total_pss_mb,
        children_maxrss=stats.children_maxrss_mb,
        run_settings={
            "executor": stats.executor,
            "workers": stats.workers,
            "chunk_size": stats.chunk_size,
            "ray_address": stats.ray_address,
        },
        digest=digest,
        pairs_file=pairs_file,
        root=root,
        started_at=started_at,
        t0=t0,
    )
    report.threshold_source = source
    report.provenance = provenance_counts(outcomes.values())
    out.mkdir(parents=True, exist_ok=True)
    _write_scores(out / "pair_scores.csv", pairs, scorable, dist, threshold)
    from evals.plots import groups_png, roc_png

    if report.auc is not None:
        roc = metrics.roc_curve(dist, same)
        roc_png(
            out / "roc.png",
            roc.far.tolist(),
            roc.tar.tolist(),
            auc=report.auc,
            title=f"{pairs_file.name}: {settings.model} + {settings.detector}",
            n_impostor=int((~same).sum()),
            threshold=threshold,
            at_threshold=_operating_point(report),
        )
    else:  # no curve without both kinds of pair: no picture that could pass for one
        (out / "roc.png").unlink(missing_ok=True)
    if not groups_png(out / "groups.png", report.groups, title=f"{pairs_file.name}: FMR and FNMR by group"):
        (out / "groups.png").unlink(missing_ok=True)
    # again, now that the plot is drawn: matplotlib is part of what this process held
    report.peak_rss_mb = rss_summary(
        peak_rss_mb(),
        stats.worker_peak_rss_mb,
        stats.sampled_total_rss_mb,
        stats.children_maxrss_mb,
        stats.sampled_total_pss_mb,
    )
    if audit:
        from evals.audit import record_eval_run

        report.audit = record_eval_run(
            settings, eval_kind="verification", dataset_sha256=digest, summary=headline(report)
        )
    (out / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _build_report(
    *,
    settings: Settings,
    pairs: list[Pair],
    scorable: list[Pair],
    dist: np.ndarray,
    same: np.ndarray,
    threshold: float,
    failed: list[FailedImage],
    n_images: int,
    embed_ms: list[float],
    stats_elapsed: float,
    worker_rss: dict[int, float],
    sampled_total: float | None,
    sampled_pss: float | None,
    children_maxrss: float | None,
    run_settings: dict[str, Any],
    digest: str,
    pairs_file: Path,
    root: Path,
    started_at: str,
    t0: float,
) -> VerificationReport:
    notes: list[str] = shipped_set_notes(root)
    rates = metrics.error_rates(dist, same, threshold)
    predicted = dist <= threshold
    correct = int(np.sum(predicted == same))
    n_failed_pairs = len(pairs) - len(scorable)
    both = bool(same.any()) and bool((~same).any())
    if both:
        auc: float | None = metrics.roc_auc(dist, same)
        eer: float | None = metrics.equal_error_rate(dist, same)
        best_t, best_acc = metrics.best_threshold(dist, same)
        best_threshold: float | None = best_t
        best_accuracy: float | None = best_acc
        notes.append("best_threshold is chosen on these same pairs: an optimistic figure, not a calibration.")
    else:
        auc = eer = best_threshold = best_accuracy = None
        notes.append("ROC figures need both genuine and impostor pairs among the scorable pairs.")
    tar: dict[str, float | str] = {}
    for far in FAR_TARGETS:
        value = metrics.tar_at_far(dist, same, far) if both else None
        tar[f"{far:g}"] = value if value is not None else NOT_ENOUGH
    if failed:
        notes.append(f"{len(failed)} image(s) failed; {n_failed_pairs} pair(s) touching them are not scored.")
    elapsed = time.perf_counter() - t0
    parent = peak_rss_mb()
    return VerificationReport(
        n_pairs=len(pairs),
        n_genuine_pairs=sum(p.same for p in pairs),
        n_impostor_pairs=sum(not p.same for p in pairs),
        n_images=n_images,
        n_scorable_pairs=len(scorable),
        n_failed_pairs=n_failed_pairs,
        threshold=threshold,
        accuracy=correct / len(scorable) if scorable else None,
        accuracy_counting_failures=correct / len(pairs),
        confusion={
            "tp": int(np.sum(predicted & same)),
            "fp": int(np.sum(predicted & ~same)),
            "tn": int(np.sum(~predicted & ~same)),
            "fn": int(np.sum(~predicted & same)),
        },
        fmr=proportion(rates.false_matches, rates.impostors),
        fnmr=proportion(rates.false_non_matches, rates.genuines),
        groups=verification_groups([p.groups for p in scorable], dist, same, threshold),
        best_threshold=best_threshold,
        best_accuracy=best_accuracy,
        auc=auc,
        eer=eer,
        tar_at_far=tar,
        failed_images=failed,
        n_failed_images=len(failed),
        failed_by_code=failure_counts(failed),
        elapsed_s=elapsed,
        embed_elapsed_s=stats_elapsed,
        pairs_per_s=len(pairs) / elapsed if elapsed > 0 else float("inf"),
        images_per_s=n_images / stats_elapsed if stats_elapsed > 0 else float("inf"),
        embed_ms_per_image=float(np.mean(embed_ms)) if embed_ms else 0.0,
        peak_rss_mb=rss_summary(parent, worker_rss, sampled_total, children_maxrss, sampled_pss),
        settings={
            "model": settings.model,
            "detector": settings.detector,
            "metric": settings.metric,
            "align": settings.align,
            "detect_max_side": settings.detect_max_side,
            "embedding_mirror": settings.embedding_mirror,
            "threshold_setting": settings.threshold,
            **run_settings,
        },
        dataset_sha256=digest,
        pairs_file=str(pairs_file),
        root=str(root),
        started_at=started_at,
        notes=notes,
    )


def provenance_counts(outcomes: Iterable[ImageOutcome]) -> dict[str, int]:
    """How many images had each provenance state (most common first; ties from trusted to not checked)."""
    counts = Counter(o.provenance for o in outcomes if o.ok and o.provenance is not None)
    order = ("trusted", "untrusted", "invalid", "absent", "not_checked")
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 9)))


def _operating_point(report: VerificationReport) -> tuple[float, float] | None:
    if report.fmr is None or report.fnmr is None or report.fmr.rate is None or report.fnmr.rate is None:
        return None
    return report.fmr.rate, 1.0 - report.fnmr.rate


def rss_summary(
    parent: float,
    worker_rss: dict[int, float],
    sampled_total: float | None = None,
    children_maxrss: float | None = None,
    sampled_pss: float | None = None,
) -> dict[str, Any]:
    """Peak resident memory in MiB.

    ``parent`` (RUSAGE_SELF) and each worker's own peak; ``max_process``: the largest single process (the
    figure a per-process budget applies to); ``concurrent_total``: the highest parent + children RSS sum
    sampled during the run (local executor), and ``concurrent_total_pss`` the same in PSS (shared library
    pages split between the processes that share them: the closest figure to what the run held at once);
    ``sum_of_peaks``: parent + every worker's peak, an upper bound (peaks need not coincide; shared pages
    counted per process); ``children_rusage``: RUSAGE_CHILDREN maxrss (the largest finished child of this
    process, over its whole life).
    """
    workers = sorted(worker_rss.values(), reverse=True)
    return {
        "parent": round(parent, 1),
        "workers": [round(w, 1) for w in workers],
        "worker_max": round(max(workers), 1) if workers else None,
        "max_process": round(max([parent, *workers]), 1),
        "concurrent_total": round(sampled_total, 1) if sampled_total is not None else None,
        "concurrent_total_pss": round(sampled_pss, 1) if sampled_pss is not None else None,
        "sum_of_peaks": round(parent + sum(workers), 1),
        "children_rusage": round(children_maxrss, 1) if children_maxrss is not None else None,
    }


def headline(report: VerificationReport) -> dict[str, Any]:
    return {
        "n_pairs": report.n_pairs,
        "n_images": report.n_images,
        "accuracy": report.accuracy,
        "accuracy_counting_failures": report.accuracy_counting_failures,
        "auc": report.auc,
        "eer": report.eer,
        "fmr": report.fmr.rate if report.fmr else None,
        "fnmr": report.fnmr.rate if report.fnmr else None,
        "threshold": report.threshold,
        "threshold_source": report.threshold_source,
        "n_failed_images": report.n_failed_images,
        "pairs_per_s": round(report.pairs_per_s, 3),
        "settings": report.settings,
    }


def _write_scores(
    path: Path,
    pairs: list[Pair],
    scorable: list[Pair],
    dist: np.ndarray,
    threshold: float,
) -> None:
    scores = {id(p): float(d) for p, d in zip(scorable, dist, strict=True)}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["img1", "img2", "same", "distance", "predicted_same", "correct", "status"])
        for p in pairs:
            d = scores.get(id(p))
            if d is None:
                w.writerow([p.img1, p.img2, int(p.same), "", "", 0, "failed_image"])
            else:
                pred = d <= threshold
                w.writerow([p.img1, p.img2, int(p.same), f"{d:.6f}", int(pred), int(pred == p.same), "scored"])


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None, fmt: str = ".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def render_markdown(r: VerificationReport) -> str:
    s = r.settings
    lines = [
        "# Verification evaluation",
        "",
        f"Pairs `{r.pairs_file}` (root `{r.root}`), dataset sha256 `{r.dataset_sha256[:16]}…`, started {r.started_at}.",
        f"Model **{s['model']}**, detector **{s['detector']}**, metric {s['metric']}, "
        f"executor {s['executor']} with {s['workers']} worker(s).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| pairs (genuine / impostor) | {r.n_pairs} ({r.n_genuine_pairs} / {r.n_impostor_pairs}) |",
        f"| distinct images | {r.n_images} |",
        f"| threshold (configured) | {r.threshold:.4f} ({_SOURCES.get(r.threshold_source or '', 'n/a')}) |",
        f"| accuracy over scorable pairs ({r.n_scorable_pairs}) | {_pct(r.accuracy)} |",
        f"| FMR at the threshold (impostor pairs accepted; 95% CI) | {_rate(r.fmr)} |",
        f"| FNMR at the threshold (genuine pairs refused; 95% CI) | {_rate(r.fnmr)} |",
        f"| accuracy counting {r.n_failed_pairs} failed pair(s) as wrong | {_pct(r.accuracy_counting_failures)} |",
        f"| best threshold / its accuracy | {_num(r.best_threshold)} / {_pct(r.best_accuracy)} |",
        f"| ROC AUC | {_num(r.auc)} |",
        f"| EER | {_pct(r.eer)} |",
    ]
    for far, v in r.tar_at_far.items():
        lines.append(f"| TAR at FAR {far} | {v if isinstance(v, str) else _pct(v)} |")
    rss = r.peak_rss_mb
    lines += [
        f"| failed images | {r.n_failed_images} |",
        f"| provenance of the images (C2PA) | {provenance_line(r.provenance)} |",
        f"| wall time | {r.elapsed_s:.2f} s (embedding {r.embed_elapsed_s:.2f} s) |",
        f"| pairs per second | {r.pairs_per_s:.2f} |",
        f"| embedding time per image (in a worker) | {r.embed_ms_per_image:.0f} ms |",
        f"| peak RSS: parent / largest worker | {rss['parent']} / {rss['worker_max']} MiB |",
        f"| peak memory, all processes at once (sampled): RSS / PSS | {rss['concurrent_total']} / "
        f"{rss['concurrent_total_pss']} MiB |",
        "",
    ]
    if r.failed_images:
        lines += ["## Failed images", "", "| file | error |", "| --- | --- |"]
        lines += [f"| `{f.file}` | {f.error_code}: {f.error} |" for f in r.failed_images]
        lines.append("")
    if r.groups:
        from evals.groups import render_markdown as groups_markdown

        lines += groups_markdown(r.groups, plot="groups.png" if any(t.rows for t in r.groups) else None)
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    if r.audit is not None:
        lines += [f"Audit: `{json.dumps(r.audit)}`", ""]
    if r.auc is not None:
        lines += ["![ROC](roc.png)", ""]
    return "\n".join(lines)


_SOURCES = {
    "setting": "set by the operator",
    "calibration": "calibrated: facegate eval calibrate",
    "model": "DeepFace's for the model and metric",
}


def _rate(p: Proportion | None) -> str:
    if p is None or p.rate is None:
        return "n/a (no such pairs)"
    return f"{100 * p.rate:.2f}% ({p.k}/{p.n}; {100 * p.low:.2f}-{100 * p.high:.2f}%)"
