"""Expression-recognition evaluation over a labelled list (``file,label``; FER-style labels).

The prediction for an image is the dominant expression of its largest face. Small pre-cropped faces are left
to the engine, which classifies them whole instead of running a detector on them. Images where no face is
found are counted and listed, and counted as wrong in ``accuracy_counting_failures``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from evals import metrics
from evals.datasets import dataset_sha256, read_labels, resolve
from evals.errors import EvalError
from evals.executors import ExecutorName, ProgressFn, run_images
from evals.groups import GroupTable, expression_groups
from evals.scoring import FailedImage, check_images_exist, failure_counts, shipped_set_notes
from evals.verification import rss_summary
from evals.workers import peak_rss_mb
from tools.results import EMOTIONS, EXPRESSION_CAVEAT

if TYPE_CHECKING:
    from agent.settings import Settings


class ExpressionReport(BaseModel):
    kind: str = "expression"
    n_images: int
    n_scored: int
    accuracy: float | None  # over scored images
    accuracy_counting_failures: float
    macro_f1: float | None
    macro_f1_labels: list[str]
    precision: dict[str, float | None]
    recall: dict[str, float | None]
    f1: dict[str, float]
    support: dict[str, int]
    labels: list[str]
    confusion: list[list[int]]  # rows true, columns predicted, in ``labels`` order
    detectors_used: dict[str, int]  # e.g. {"opencv": 10, "none": 4}: "none" = small crop classified whole
    # calibration of the dominant expression's score: expected calibration error over 10 equal-width bins, and
    # the bins (count, mean score, share right). Answers quote these scores as percentages.
    ece: float | None = None
    reliability: list[dict[str, Any]] = Field(default_factory=list)
    mean_confidence: float | None = None
    groups: list[GroupTable] = Field(default_factory=list)  # one table per extra column of the labels list
    failed_images: list[FailedImage]
    n_failed_images: int
    failed_by_code: dict[str, int] = Field(default_factory=dict)
    elapsed_s: float
    images_per_s: float
    ms_per_image: float
    peak_rss_mb: dict[str, Any]
    settings: dict[str, Any]
    dataset_sha256: str
    labels_file: str
    root: str
    started_at: str
    caveat: str = EXPRESSION_CAVEAT
    notes: list[str] = Field(default_factory=list)
    audit: dict[str, Any] | None = None


def run_expression(
    settings: Settings,
    labels_file: Path,
    root: Path,
    out: Path,
    *,
    workers: int | None = None,
    executor: ExecutorName = "local",
    ray_address: str | None = None,
    progress: ProgressFn | bool | None = None,
    audit: bool = True,
) -> ExpressionReport:
    """Evaluate expression recognition; write report.json, report.md, confusion.png, reliability.png,
    predictions.csv (and groups.png when the list has group columns).

    Raises:
        EvalError: no listed image exists under ``root``, or not one image could be scored.
    """
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    items = read_labels(labels_file, root)
    rels = [it.file for it in items]
    abs_of = {rel: str(resolve(root, rel)) for rel in rels}
    check_images_exist(abs_of, labels_file, root)
    digest = dataset_sha256(labels_file, root, rels)
    outcomes, stats = run_images(
        "expression",
        list(abs_of.values()),
        settings,
        executor=executor,
        workers=workers,
        ray_address=ray_address,
        progress=progress,
    )
    y_true: list[str] = []
    y_pred: list[str] = []
    failed: list[FailedImage] = []
    failed_seen: set[str] = set()
    detectors: dict[str, int] = {}
    rows: list[tuple[str, str, str, str, str]] = []
    confidences: list[float] = []
    groupings: list[dict[str, str]] = []
    for it in items:
        o = outcomes[abs_of[it.file]]
        if o.ok and o.expression is not None:
            y_true.append(it.label)
            y_pred.append(o.expression)
            score = (o.scores or {}).get(o.expression)
            confidences.append(float(score) if score is not None else float("nan"))
            groupings.append(it.groups)
            detectors[o.detector or "?"] = detectors.get(o.detector or "?", 0) + 1
            rows.append((it.file, it.label, o.expression, f"{confidences[-1]:.4f}", o.detector or ""))
        else:
            if it.file not in failed_seen:
                failed.append(FailedImage(file=it.file, error_code=o.error_code or "error", error=o.error or ""))
                failed_seen.add(it.file)
            rows.append((it.file, it.label, "", "", "failed"))
    if not y_true:
        codes = ", ".join(f"{n} {code}" for code, n in failure_counts(failed).items())
        raise EvalError(
            f"no image of {labels_file.name} could be scored: all {len(failed)} failed ({codes})",
            failed_images=len(failed),
        )
    m = metrics.classification_metrics(y_true, y_pred, EMOTIONS)
    known = [(c, t == p) for c, t, p in zip(confidences, y_true, y_pred, strict=True) if c == c]  # drop NaN
    ece, bins = metrics.reliability([c for c, _ in known], [ok for _, ok in known]) if known else (None, [])
    correct = sum(t == p for t, p in zip(y_true, y_pred, strict=True))
    elapsed = time.perf_counter() - t0
    notes = shipped_set_notes(root)
    if failed:
        notes.append(f"{len(failed)} image(s) failed (no face or unreadable); counted as wrong in one figure.")
    report = ExpressionReport(
        n_images=len(items),
        n_scored=len(y_true),
        accuracy=m.accuracy,
        accuracy_counting_failures=correct / len(items),
        macro_f1=m.macro_f1,
        macro_f1_labels=list(m.macro_f1_labels),
        precision=m.precision,
        recall=m.recall,
        f1=m.f1,
        support=m.support,
        labels=list(EMOTIONS),
        confusion=m.confusion,
        detectors_used=detectors,
        ece=ece,
        reliability=[b.__dict__ for b in bins],
        mean_confidence=float(np.mean([c for c, _ in known])) if known else None,
        groups=expression_groups(groupings, y_true, y_pred, EMOTIONS),
        failed_images=failed,
        n_failed_images=len(failed),
        failed_by_code=failure_counts(failed),
        elapsed_s=elapsed,
        images_per_s=len(items) / elapsed if elapsed > 0 else float("inf"),
        ms_per_image=float(np.mean([o.elapsed_ms for o in outcomes.values()])) if outcomes else 0.0,
        peak_rss_mb=rss_summary(
            peak_rss_mb(),
            stats.worker_peak_rss_mb,
            stats.sampled_total_rss_mb,
            stats.children_maxrss_mb,
            stats.sampled_total_pss_mb,
        ),
        settings={
            "detector": getattr(settings, "expression_detector", settings.detector),
            "fallback_detector": settings.detector,
            "expression_backend": settings.expression_backend,
            "expression_mirror": settings.expression_mirror,
            "detect_max_side": settings.detect_max_side,
            "executor": stats.executor,
            "workers": stats.workers,
            "chunk_size": stats.chunk_size,
            "ray_address": stats.ray_address,
        },
        dataset_sha256=digest,
        labels_file=str(labels_file),
        root=str(root),
        started_at=started_at,
        notes=notes,
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "predictions.csv").open("w", encoding="utf-8") as fh:
        fh.write("file,label,predicted,score,detector\n")
        for row in rows:
            fh.write(",".join(row) + "\n")
    from evals.plots import confusion_png, groups_png, reliability_png

    confusion_png(out / "confusion.png", report.confusion, EMOTIONS, title=f"{labels_file.name}: expression")
    if ece is not None:
        reliability_png(out / "reliability.png", bins, ece=ece, title=f"{labels_file.name}: score calibration")
    if not groups_png(out / "groups.png", report.groups, title=f"{labels_file.name}: accuracy by group"):
        (out / "groups.png").unlink(missing_ok=True)
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
            settings,
            eval_kind="expression",
            dataset_sha256=digest,
            summary={
                "n_images": report.n_images,
                "accuracy": report.accuracy,
                "accuracy_counting_failures": report.accuracy_counting_failures,
                "macro_f1": report.macro_f1,
                "ece": report.ece,
                "n_failed_images": report.n_failed_images,
                "settings": report.settings,
            },
        )
    (out / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_markdown(r: ExpressionReport) -> str:
    lines = [
        "# Expression evaluation",
        "",
        f"Labels `{r.labels_file}` (root `{r.root}`), dataset sha256 `{r.dataset_sha256[:16]}…`, "
        f"started {r.started_at}.",
        f"Detector **{r.settings['detector']}**, backend {r.settings['expression_backend']}; detectors used: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(r.detectors_used.items())),
        "",
        f"> {r.caveat}",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| images | {r.n_images} (scored {r.n_scored}, failed {r.n_failed_images}) |",
        f"| accuracy over scored images | {_pct(r.accuracy)} |",
        f"| accuracy counting failures as wrong | {_pct(r.accuracy_counting_failures)} |",
        f"| macro F1 (over {', '.join(r.macro_f1_labels) or 'n/a'}) | "
        f"{'n/a' if r.macro_f1 is None else f'{r.macro_f1:.3f}'} |",
        f"| expected calibration error of the scores (10 bins) | {'n/a' if r.ece is None else f'{r.ece:.3f}'} "
        f"(mean score {_pct(r.mean_confidence)} against accuracy {_pct(r.accuracy)}) |",
        f"| wall time | {r.elapsed_s:.2f} s ({r.ms_per_image:.0f} ms per image in a worker) |",
        f"| peak RSS: parent / largest worker | {r.peak_rss_mb['parent']} / {r.peak_rss_mb['worker_max']} MiB |",
        f"| peak memory, all processes at once (sampled): RSS / PSS | {r.peak_rss_mb['concurrent_total']} / "
        f"{r.peak_rss_mb['concurrent_total_pss']} MiB |",
        "",
        "## Per class",
        "",
        "| class | support | precision | recall | F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lab in r.labels:
        if r.support.get(lab) or r.precision.get(lab) is not None:
            lines.append(
                f"| {lab} | {r.support.get(lab, 0)} | {_pct(r.precision.get(lab))} | "
                f"{_pct(r.recall.get(lab))} | {r.f1.get(lab, 0.0):.3f} |"
            )
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", ""]
    lines.append("| true \\ predicted | " + " | ".join(r.labels) + " |")
    lines.append("| --- " * (len(r.labels) + 1) + "|")
    for lab, row in zip(r.labels, r.confusion, strict=True):
        lines.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")
    lines.append("")
    if r.failed_images:
        lines += ["## Failed images", "", "| file | error |", "| --- | --- |"]
        lines += [f"| `{f.file}` | {f.error_code}: {f.error} |" for f in r.failed_images]
        lines.append("")
    if r.reliability:
        lines += ["## Score calibration", "", "| score bin | images | mean score | share right |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [
            f"| {b['low']:.1f}-{b['high']:.1f} | {b['count']} | {_pct(b['mean_confidence'])} | {_pct(b['accuracy'])} |"
            for b in r.reliability
            if b["count"]
        ]
        lines += ["", "![reliability](reliability.png)", ""]
    if r.groups:
        from evals.groups import render_markdown as groups_markdown

        lines += groups_markdown(r.groups, plot="groups.png" if any(t.rows for t in r.groups) else None)
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    if r.audit is not None:
        lines += [f"Audit: `{json.dumps(r.audit)}`", ""]
    lines += ["![confusion](confusion.png)", ""]
    return "\n".join(lines)
