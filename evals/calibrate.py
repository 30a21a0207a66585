"""``facegate eval calibrate``: the distance threshold that meets a target error rate on the operator's pairs.

Given labelled pairs and a target false-accept rate (``--far``) or false-reject rate (``--frr``), this picks
the threshold the pairs *show* meets it: the most permissive (for FAR; the strictest for FRR) threshold whose
number of errors ``k`` keeps the one-sided Clopper-Pearson bound of the rate within the target at the given
confidence. It reports the rates there with two-sided intervals and a bootstrap interval of the threshold.
When even ``k = 0`` cannot show the target, the pairs are too few: with ``n`` impostor pairs and no false
accept at all the bound is ``1 - (1 - confidence) ** (1 / n)``, so a FAR of 0.001 at 95% needs at least 2,995
impostor pairs. The report then gives the threshold that meets the target on these pairs only, and says so.

Only a shown target is written (to ``settings.resolved_calibration_file``), with the recipe and metric it was
measured for: the engine then uses it as the operator's threshold for that recipe, and a purpose can still only
tighten it. The report files are written either way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from evals import metrics
from evals.errors import EvalError
from evals.executors import ExecutorName, ProgressFn
from evals.groups import proportion
from evals.scoring import score_pairs, shipped_set_notes
from tools.calibration import Calibration, Proportion, write_calibration
from tools.errors import UserError
from tools.results import EmbeddingRecipe

if TYPE_CHECKING:
    from agent.settings import Settings

Target = Literal["far", "frr"]


class CalibrationReport(BaseModel):
    kind: str = "calibration"
    target: Target
    target_rate: float
    confidence: float
    threshold: float
    threshold_interval: tuple[float, float] | None  # bootstrap percentile interval (pairs resampled)
    bootstrap_rounds: int
    far: Proportion  # at the threshold, with a two-sided interval at ``confidence``
    frr: Proportion
    upper_bound: float  # one-sided bound of the targeted rate at ``confidence``
    demonstrated: bool  # upper_bound <= target_rate: the pairs show the target
    pairs_needed: int  # impostor (far) or genuine (frr) pairs needed to show the target with no error at all
    pairs_available: int
    message: str
    model_threshold: float  # the engine's threshold before calibration, and its rates on these pairs
    model_threshold_source: str
    model_far: Proportion
    model_frr: Proportion
    recipe: EmbeddingRecipe
    metric: str
    n_pairs: int
    n_scorable_pairs: int
    n_failed_images: int
    dataset_sha256: str
    pairs_file: str
    root: str
    started_at: str
    written_to: str | None = None
    notes: list[str] = Field(default_factory=list)
    audit: dict[str, Any] | None = None


def run_calibration(
    settings: Settings,
    pairs_file: Path,
    root: Path,
    out: Path,
    *,
    far: float | None = None,
    frr: float | None = None,
    confidence: float = 0.95,
    bootstrap: int = 1000,
    write: bool = True,
    workers: int | None = None,
    executor: ExecutorName = "local",
    ray_address: str | None = None,
    progress: ProgressFn | bool | None = None,
    audit: bool = True,
) -> CalibrationReport:
    """Calibrate; write calibration.json and calibration.md into ``out`` and, when the target is shown and
    ``write``, the calibration file the engine reads.

    Raises:
        UserError: not exactly one of ``far`` / ``frr``, or a rate or confidence outside (0, 1).
        EvalError: the pairs cannot be scored, or hold no pair of the kind the target needs.
    """
    target, rate = _target(far, frr)
    if not 0 < confidence < 1:
        raise UserError(f"--confidence must be between 0 and 1, got {confidence}")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    scored = score_pairs(
        settings, pairs_file, root, workers=workers, executor=executor, ray_address=ray_address, progress=progress
    )
    dist, same = scored.dist, scored.same
    needed_kind = "impostor" if target == "far" else "genuine"
    available = int((~same).sum()) if target == "far" else int(same.sum())
    if available == 0:
        raise EvalError(f"{pairs_file.name} has no scorable {needed_kind} pair: a {target.upper()} target needs them")
    allowed = max_errors_shown(available, rate, confidence)
    # shown: allow as many errors as the bound permits; too few pairs: the empirical target, flagged below
    effective = allowed / available if allowed is not None else rate
    threshold = metrics.threshold_for_target(dist, same, effective, target)
    at = metrics.error_rates(dist, same, threshold)
    far_p = proportion(at.false_matches, at.impostors, confidence)
    frr_p = proportion(at.false_non_matches, at.genuines, confidence)
    chosen = far_p if target == "far" else frr_p
    upper = metrics.upper_bound(chosen.k, chosen.n, confidence)
    needed = metrics.trials_needed(rate, confidence)
    demonstrated = upper <= rate
    message = _message(target, rate, confidence, chosen, upper, needed, demonstrated)
    base = metrics.error_rates(dist, same, scored.threshold)

    from tools.engine import FaceEngine  # cheap: builds no model

    recipe = FaceEngine(settings).recipe()
    report = CalibrationReport(
        target=target,
        target_rate=rate,
        confidence=confidence,
        threshold=round(threshold, 6),
        threshold_interval=_bootstrap(dist, same, effective, target, bootstrap, confidence),
        bootstrap_rounds=bootstrap,
        far=far_p,
        frr=frr_p,
        upper_bound=upper,
        demonstrated=demonstrated,
        pairs_needed=needed,
        pairs_available=available,
        message=message,
        model_threshold=scored.threshold,
        model_threshold_source=scored.threshold_source,
        model_far=proportion(base.false_matches, base.impostors, confidence),
        model_frr=proportion(base.false_non_matches, base.genuines, confidence),
        recipe=recipe,
        metric=settings.metric,
        n_pairs=len(scored.pairs),
        n_scorable_pairs=len(scored.scorable),
        n_failed_images=len(scored.failed),
        dataset_sha256=scored.digest,
        pairs_file=str(pairs_file),
        root=str(root),
        started_at=started_at,
        notes=[
            *shipped_set_notes(root),
            "The threshold is chosen on these pairs; the interval of the rate says how far the true rate may be "
            "from what these pairs show, not how the threshold transfers to other people or cameras.",
        ],
    )
    if scored.failed:
        report.notes.append(f"{len(scored.failed)} image(s) failed; pairs touching them are not used.")
    if demonstrated and write:
        path = settings.resolved_calibration_file
        write_calibration(
            path,
            Calibration(
                threshold=report.threshold,
                metric=settings.metric,
                recipe=recipe,
                target=target,
                target_rate=rate,
                confidence=confidence,
                far=far_p,
                frr=frr_p,
                threshold_interval=report.threshold_interval,
                dataset_sha256=scored.digest,
                pairs_file=str(pairs_file),
                created_at=started_at,
            ),
        )
        report.written_to = str(path)
    if audit:
        from evals.audit import record_eval_run

        report.audit = record_eval_run(
            settings,
            eval_kind="calibration",
            dataset_sha256=scored.digest,
            summary={
                "target": target,
                "target_rate": rate,
                "threshold": report.threshold,
                "demonstrated": demonstrated,
                "far": far_p.rate,
                "frr": frr_p.rate,
                "written_to": report.written_to,
                "recipe": recipe.model_dump(mode="json"),
            },
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "calibration.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def max_errors_shown(n: int, rate: float, confidence: float) -> int | None:
    """The most errors among ``n`` pairs whose one-sided upper bound stays at most ``rate`` (None: not even 0)."""
    if n == 0 or metrics.upper_bound(0, n, confidence) > rate:
        return None
    k = 0
    while k + 1 < n and metrics.upper_bound(k + 1, n, confidence) <= rate:
        k += 1
    return k


def _target(far: float | None, frr: float | None) -> tuple[Target, float]:
    if (far is None) == (frr is None):
        raise UserError("give exactly one target: --far RATE or --frr RATE (e.g. --far 0.001)")
    kind: Target = "far" if far is not None else "frr"
    rate = float(far if far is not None else frr)  # type: ignore[arg-type]
    if not 0 < rate < 1:
        raise UserError(f"--{kind} must be between 0 and 1 (a rate, e.g. 0.001 for 0.1%), got {rate}")
    return kind, rate


def _message(
    target: Target, rate: float, confidence: float, chosen: Proportion, upper: float, needed: int, shown: bool
) -> str:
    kind = "impostor" if target == "far" else "genuine"
    name = target.upper()
    pct = f"{100 * confidence:g}%"
    if shown:
        return (
            f"{name} {_p(chosen.rate)} ({chosen.k}/{chosen.n}); with {pct} confidence it is at most {_p(upper)}, "
            f"within the target {_p(rate)}"
        )
    if chosen.n < needed:
        return (
            f"too few {kind} pairs to show a {name} of {_p(rate)}: {chosen.n} {kind} pairs can show at best "
            f"{_p(metrics.upper_bound(0, chosen.n, confidence))} with {pct} confidence (even with no error at all); "
            f"the target needs at least {needed:,}. Add {kind} pairs, or aim for a rate these pairs can show"
        )
    return (
        f"{name} {_p(chosen.rate)} ({chosen.k}/{chosen.n}) on these pairs, but with {pct} confidence only at most "
        f"{_p(upper)}: not within the target {_p(rate)}. More {kind} pairs would narrow the interval"
    )


def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.3g}%"


def _bootstrap(
    dist: np.ndarray, same: np.ndarray, rate: float, target: Target, rounds: int, confidence: float
) -> tuple[float, float] | None:
    """Percentile interval of the chosen threshold over ``rounds`` resamplings (genuine and impostor pairs
    resampled separately, so each round has both), chosen by the same rule (``rate``: the share of errors the
    bound allowed). Seeded: the same pairs give the same interval."""
    if rounds <= 0:
        return None
    rng = np.random.default_rng(20261203)
    gen, imp = dist[same], dist[~same]
    if gen.size == 0 or imp.size == 0:
        return None
    labels = np.concatenate([np.ones(gen.size, dtype=bool), np.zeros(imp.size, dtype=bool)])
    values = []
    for _ in range(rounds):
        sample = np.concatenate([rng.choice(gen, gen.size), rng.choice(imp, imp.size)])
        values.append(metrics.threshold_for_target(sample, labels, rate, target))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return round(float(low), 6), round(float(high), 6)


def _rate_line(name: str, p: Proportion) -> str:
    if p.rate is None:
        return f"| {name} | n/a |"
    return f"| {name} | {100 * p.rate:.3f}% ({p.k}/{p.n}; {100 * p.low:.3f}-{100 * p.high:.3f}%) |"


def render_markdown(r: CalibrationReport) -> str:
    ci = f"{100 * r.confidence:g}%"
    interval = (
        f"{r.threshold_interval[0]:.4f}-{r.threshold_interval[1]:.4f} ({ci} bootstrap, {r.bootstrap_rounds} rounds)"
        if r.threshold_interval
        else "n/a"
    )
    lines = [
        "# Threshold calibration",
        "",
        f"Pairs `{r.pairs_file}` (root `{r.root}`), dataset sha256 `{r.dataset_sha256[:16]}…`, started {r.started_at}.",
        f"Recipe: {r.recipe.describe()}; metric {r.metric}.",
        "",
        f"**{'Shown' if r.demonstrated else 'NOT shown'}**: {r.message}.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| target | {r.target.upper()} <= {100 * r.target_rate:g}% at {ci} confidence |",
        f"| threshold | {r.threshold:.4f} |",
        f"| threshold interval | {interval} |",
        _rate_line(f"FAR at the threshold ({ci} CI)", r.far),
        _rate_line(f"FRR at the threshold ({ci} CI)", r.frr),
        f"| one-sided {ci} bound of the {r.target.upper()} | {100 * r.upper_bound:.3f}% |",
        f"| {('impostor' if r.target == 'far' else 'genuine')} pairs: available / needed to show the target | "
        f"{r.pairs_available:,} / {r.pairs_needed:,} |",
        f"| before: threshold ({r.model_threshold_source}) | {r.model_threshold:.4f} |",
        _rate_line("before: FAR", r.model_far),
        _rate_line("before: FRR", r.model_frr),
        f"| pairs (scorable) | {r.n_pairs} ({r.n_scorable_pairs}); failed images {r.n_failed_images} |",
        f"| written to | {r.written_to or 'nothing written'} |",
        "",
        "A purpose with a stricter threshold (access control, MFA) still applies its own when it is lower.",
        "",
    ]
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    if r.audit is not None:
        lines += [f"Audit: `{json.dumps(r.audit)}`", ""]
    return "\n".join(lines)
