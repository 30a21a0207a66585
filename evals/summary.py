"""Short terminal summaries of evaluation reports (the full Markdown, with its pictures, stays in the files).

Pure functions from a report to text, used by the command layer: a handful of lines a person reads at a glance,
then where the files are. Warnings (pairs that could not be scored) are separate so the command can put them on
stderr.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evals.agent_eval import AgentEvalReport
    from evals.calibrate import CalibrationReport
    from evals.expression import ExpressionReport
    from evals.groups import GroupTable, Spread
    from evals.verification import VerificationReport
    from tools.calibration import Proportion

_SOURCE = {"setting": "set by the operator", "calibration": "calibrated", "model": "DeepFace's default"}


def _pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def rate(p: Proportion | None, digits: int = 2) -> str:
    """``1.32% (2/151; 95% CI 0.16-4.70%)``."""
    if p is None or p.rate is None:
        return "n/a"
    ci = f"{100 * p.confidence:g}% CI"
    return f"{_pct(p.rate, digits)} ({p.k}/{p.n}; {ci} {_pct(p.low, digits)}-{_pct(p.high, digits)})"


def _spread(s: Spread) -> str:
    if s.highest is None:
        return f"{s.metric.upper()} -"
    if not s.highest_rate:
        return f"{s.metric.upper()} 0 in every group"
    ratio = f"{s.ratio:.1f}x" if s.ratio is not None else "unbounded"
    return f"{s.metric.upper()} {ratio} ({s.highest} {_pct(s.highest_rate, 1)} vs {s.lowest} {_pct(s.lowest_rate, 1)})"


def _groups(tables: list[GroupTable]) -> list[str]:
    lines = []
    for t in tables:
        if t.skipped:
            lines.append(f"  by {t.column}: skipped ({t.skipped})")
        else:
            lines.append(f"  by {t.column} ({len(t.rows)} groups): largest ratio " + ", ".join(map(_spread, t.spreads)))
    return lines


def _memory(rss: dict[str, Any]) -> str:
    return (
        f"largest process {rss.get('max_process')} MiB, all processes at once {rss.get('concurrent_total')} MiB RSS"
        f" / {rss.get('concurrent_total_pss')} MiB PSS"
    )


def provenance_line(counts: dict[str, int]) -> str:
    """``trusted 70, absent 9`` (or ``not checked`` when no image reported a state)."""
    return ", ".join(f"{state.replace('_', ' ')} {n}" for state, n in counts.items()) or "not checked"


def verification(r: VerificationReport, files: str) -> str:
    s = r.settings
    size = s.get("detect_max_side")
    recipe = (
        f"{s['model']} + {s['detector']} {'full size' if not size else f'<= {size} px'}, "
        f"{'mirror-averaged' if s.get('embedding_mirror') else 'no mirror averaging'}"
    )
    lines = [
        f"verification: {r.n_pairs} pairs ({r.n_genuine_pairs} genuine, {r.n_impostor_pairs} impostor), "
        f"{r.n_images} images; {recipe}",
        f"  threshold {r.threshold:.4f} ({_SOURCE.get(r.threshold_source or '', 'n/a')})",
        f"  accuracy {_pct(r.accuracy)} of {r.n_scorable_pairs} scorable pairs"
        + (
            f" ({_pct(r.accuracy_counting_failures)} counting {r.n_failed_pairs} unscored as wrong)"
            if r.n_failed_pairs
            else ""
        )
        + f"; AUC {'n/a' if r.auc is None else f'{r.auc:.4f}'}; EER {_pct(r.eer)}",
        f"  FMR {rate(r.fmr)}",
        f"  FNMR {rate(r.fnmr)}",
        f"  provenance (C2PA) of the images: {provenance_line(r.provenance)}",
        *_groups(r.groups),
        f"  {r.pairs_per_s:.1f} pairs/s; {_memory(r.peak_rss_mb)}",
        f"wrote {files}",
    ]
    return "\n".join(lines)


def expression(r: ExpressionReport, files: str) -> str:
    lines = [
        f"expression: {r.n_images} images ({r.n_scored} scored); detector {r.settings.get('detector')}, "
        f"backend {r.settings.get('expression_backend')}",
        f"  accuracy {_pct(r.accuracy, 1)}; macro F1 {'n/a' if r.macro_f1 is None else f'{r.macro_f1:.3f}'}",
        f"  score calibration: ECE {'n/a' if r.ece is None else f'{r.ece:.3f}'} "
        f"(mean score {_pct(r.mean_confidence, 1)} against accuracy {_pct(r.accuracy, 1)})",
        "  recall: "
        + ", ".join(f"{k} {_pct(v, 0)} of {r.support.get(k, 0)}" for k, v in r.recall.items() if v is not None),
        *_groups(r.groups),
        f"  {r.images_per_s:.1f} images/s; {_memory(r.peak_rss_mb)}",
        f"wrote {files}",
    ]
    return "\n".join(lines)


def calibration(r: CalibrationReport) -> str:
    interval = (
        f" ({100 * r.confidence:g}% bootstrap interval {r.threshold_interval[0]:.4f}-{r.threshold_interval[1]:.4f})"
        if r.threshold_interval
        else ""
    )
    lines = [
        f"calibration: target {r.target.upper()} <= {100 * r.target_rate:g}% on {r.n_scorable_pairs} pairs; "
        f"{r.recipe.describe()}, {r.metric}",
        f"  threshold {r.threshold:.4f}{interval}",
        f"  FAR {rate(r.far, 3)}",
        f"  FRR {rate(r.frr, 3)}",
        f"  before: threshold {r.model_threshold:.4f} ({_SOURCE.get(r.model_threshold_source, 'n/a')}): "
        f"FAR {rate(r.model_far, 3)}, FRR {rate(r.model_frr, 3)}",
        f"  {'shown' if r.demonstrated else 'NOT shown'}: {r.message}",
        f"  {'written to ' + r.written_to if r.written_to else 'no threshold written'}",
    ]
    return "\n".join(lines)


def agent(r: AgentEvalReport, files: str) -> str:
    lines = [
        f"agent suite {r.suite} ({r.reasoner} reasoner): {r.n_passed}/{r.n_scenarios} scenarios passed",
        f"  policy violations {r.policy_violations}, wrongful refusals {r.wrongful_refusals}, sensitive leaks "
        f"{r.sensitive_leaks}; decision accuracy {_pct(r.decision_accuracy, 1)} "
        f"({r.decisions_correct}/{r.decisions_expected}); audit {_pct(r.audit_completeness, 0)} of {r.tool_runs} "
        f"tool runs, chains verified {r.audit_chains_ok}/{r.n_scenarios}",
        "  violations by class: " + ", ".join(f"{kind} {n}" for kind, n in r.violations.items()),
        "  by category: " + ", ".join(f"{c} {row['passed']}/{row['scenarios']}" for c, row in r.categories.items()),
        "",
        *rule_table(r),
        "",
        f"wrote {files}",
    ]
    failed = [s.id for s in r.scenarios if not s.passed]
    if failed:
        lines.insert(2, "  did not pass: " + ", ".join(failed))
    return "\n".join(lines)


def rule_table(r: AgentEvalReport) -> list[str]:
    """Per rule id: decisions expected, decisions that matched (same tool, outcome and rule), and how many more
    the agent made than expected. Plain, aligned text."""
    expected: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    for scenario in r.scenarios:
        for turn in scenario.turns:
            want: Counter[tuple[str, str, str]] = Counter((e.tool, str(e.outcome), e.rule) for e in turn.expected)
            got = Counter((a.get("tool", ""), a.get("outcome", ""), a.get("rule", "")) for a in turn.actual)
            # a session refused before the graph (an expected error such as unknown_purpose) is reported as one
            # "(session)" decision that the runner already counted as expected and correct
            for key in got:
                if key[0] == "(session)" and turn.decisions_correct:
                    want[key] += got[key]
            for (_tool, _outcome, rule), n in want.items():
                expected[rule] += n
            for key, n in got.items():
                actual[key[2]] += n
            for key, n in (want & got).items():
                matched[key[2]] += n
    rules = sorted(set(expected) | set(actual))
    if not rules:
        return []
    width = max(len("rule id"), *(len(x) for x in rules))
    out = [f"  {'rule id':<{width}}  expected  matched  seen"]
    for rule in rules:
        flag = "" if matched[rule] == expected[rule] == actual[rule] else "  <-"
        out.append(f"  {rule:<{width}}  {expected[rule]:>8}  {matched[rule]:>7}  {actual[rule]:>4}{flag}")
    return out


def unscored_warning(kind: str, r: Any) -> str | None:
    """A one-line warning when some pairs/images could not be scored (None when all were)."""
    codes = ", ".join(f"{n} {code}" for code, n in (getattr(r, "failed_by_code", None) or {}).items())
    if kind == "verification" and r.n_failed_pairs:
        return (
            f"warning: {r.n_failed_pairs} of {r.n_pairs} pairs could not be scored: {r.n_failed_images} image(s) "
            f"failed ({codes}); listed in report.md"
        )
    if kind == "expression" and r.n_failed_images:
        return f"warning: {r.n_failed_images} of {r.n_images} images could not be scored ({codes}); listed in report.md"
    return None
