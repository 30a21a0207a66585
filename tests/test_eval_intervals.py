"""Intervals, targets, calibration error, per-group tables, summaries and progress: pure functions, no models."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from evals import metrics
from evals.calibrate import max_errors_shown
from evals.groups import MAX_GROUPS, expression_groups, proportion, render_markdown, verification_groups
from evals.progress import StderrProgress

# --- Clopper-Pearson -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (5, 10, 0.187086, 0.812914),  # textbook values
        (1, 1000, 0.0000253, 0.0055589),
        (0, 302, 0.0, 1 - 0.025 ** (1 / 302)),  # k = 0: the closed form
        (20, 20, 0.025 ** (1 / 20), 1.0),
    ],
)
def test_clopper_pearson_matches_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = metrics.clopper_pearson(k, n)
    assert lo == pytest.approx(low, abs=2e-6) and hi == pytest.approx(high, abs=2e-6)


def test_interval_edges_and_errors() -> None:
    assert metrics.clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        metrics.clopper_pearson(3, 2)
    a = metrics.clopper_pearson(10, 100, 0.95)
    b = metrics.clopper_pearson(10, 100, 0.99)
    assert b[0] < a[0] < 0.1 < a[1] < b[1]  # more confidence, wider interval


def test_one_sided_bound_and_trials_needed() -> None:
    assert metrics.upper_bound(0, 299) == pytest.approx(1 - 0.05 ** (1 / 299))
    assert metrics.upper_bound(0, 299) <= 0.01 < metrics.upper_bound(0, 298)
    assert metrics.trials_needed(0.01) == 299
    assert metrics.trials_needed(0.001) == 2995
    assert metrics.upper_bound(5, 5) == 1.0


def test_betainc_symmetry() -> None:
    for a, b, x in [(2.0, 3.0, 0.3), (10.0, 0.5, 0.9), (1.0, 1.0, 0.42)]:
        assert metrics.betainc(a, b, x) + metrics.betainc(b, a, 1 - x) == pytest.approx(1.0)
    assert metrics.betainc(1.0, 1.0, 0.42) == pytest.approx(0.42)


# --- thresholds for a target -----------------------------------------------------------------------------------

GEN = [0.01, 0.02, 0.03, 0.05, 0.08]
IMP = [0.06, 0.10, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]


def _data() -> tuple[np.ndarray, np.ndarray]:
    return np.array(GEN + IMP), np.array([True] * len(GEN) + [False] * len(IMP))


def test_threshold_for_a_far_target_is_the_most_permissive_meeting_it() -> None:
    d, s = _data()
    t = metrics.threshold_for_target(d, s, 0.0, "far")
    assert 0.05 < t < 0.06  # below the closest impostor, as permissive as that allows
    rates = metrics.error_rates(d, s, t)
    assert rates.false_matches == 0 and rates.false_non_matches == 1  # 0.08 is refused
    t = metrics.threshold_for_target(d, s, 0.1, "far")  # one false accept of ten allowed
    assert 0.08 < t < 0.10 and metrics.error_rates(d, s, t).false_matches == 1


def test_threshold_for_an_frr_target_is_the_strictest_meeting_it() -> None:
    d, s = _data()
    t = metrics.threshold_for_target(d, s, 0.0, "frr")
    assert 0.08 < t < 0.10
    assert metrics.error_rates(d, s, t).false_non_matches == 0
    t = metrics.threshold_for_target(d, s, 0.2, "frr")
    assert 0.05 < t < 0.06
    with pytest.raises(ValueError):
        metrics.threshold_for_target(d, s, 0.1, "tar")


def test_errors_a_bound_allows() -> None:
    assert max_errors_shown(298, 0.01, 0.95) is None  # too few even with no error
    assert max_errors_shown(299, 0.01, 0.95) == 0
    k = max_errors_shown(10_000, 0.01, 0.95)
    assert k is not None and 70 < k < 100
    assert metrics.upper_bound(k, 10_000) <= 0.01 < metrics.upper_bound(k + 1, 10_000)


# --- calibration of scores ---------------------------------------------------------------------------------------


def test_ece_is_zero_when_scores_match_accuracy_and_large_when_overconfident() -> None:
    conf = [0.75] * 4 + [0.25] * 4
    right = [True, True, True, False, True, False, False, False]
    ece, bins = metrics.reliability(conf, right)
    assert ece == pytest.approx(0.0)
    assert sum(b.count for b in bins) == 8
    ece, _ = metrics.reliability([0.95] * 10, [True] * 5 + [False] * 5)
    assert ece == pytest.approx(0.45)
    with pytest.raises(ValueError):
        metrics.reliability([], [])


# --- per-group tables --------------------------------------------------------------------------------------------


def test_verification_groups_rates_intervals_and_ratio() -> None:
    groups = [{"device": "a"}] * 6 + [{"device": "b"}] * 6
    same = [True, True, True, False, False, False] * 2
    # a: one genuine refused (0.2 > 0.1), b: one impostor accepted (0.05)
    dist = [0.01, 0.02, 0.2, 0.5, 0.6, 0.7, 0.01, 0.02, 0.03, 0.05, 0.6, 0.7]
    (table,) = verification_groups(groups, dist, same, threshold=0.1)
    rows = {r.group: r for r in table.rows}
    assert rows["a"].rates["fnmr"].k == 1 and rows["a"].rates["fnmr"].n == 3
    assert rows["b"].rates["fmr"].k == 1 and rows["a"].rates["fmr"].k == 0
    p = rows["a"].rates["fnmr"]
    assert (p.low, p.high) == pytest.approx(metrics.clopper_pearson(1, 3))
    fmr = next(s for s in table.spreads if s.metric == "fmr")
    assert fmr.highest == "b" and fmr.lowest == "a" and fmr.ratio is None and "a has none" in fmr.note
    text = "\n".join(render_markdown([table]))
    assert "### `device`" in text and "33.3% (1/3" in text and "bias figures need" in text


def test_ratio_between_groups_and_too_many_values() -> None:
    groups = [{"g": "x"}] * 4 + [{"g": "y"}] * 4
    same = [False] * 8
    dist = [0.0, 0.0, 1, 1, 0.0, 1, 1, 1]  # x: 2/4 accepted, y: 1/4
    (table,) = verification_groups(groups, dist, same, threshold=0.5)
    fmr = next(s for s in table.spreads if s.metric == "fmr")
    assert fmr.ratio == pytest.approx(2.0)
    many = [{"id": str(i)} for i in range(MAX_GROUPS + 1)]
    (skipped,) = verification_groups(many, [0.0] * len(many), [True] * len(many), 0.5)
    assert skipped.rows == [] and skipped.skipped and "not a grouping" in skipped.skipped


def test_expression_groups_accuracy_and_recall() -> None:
    groups = [{"light": "day"}, {"light": "day"}, {"light": "night"}, {"light": "night"}]
    y_true = ["happy", "neutral", "happy", "neutral"]
    y_pred = ["happy", "neutral", "sad", "neutral"]
    (table,) = expression_groups(groups, y_true, y_pred, ["happy", "neutral", "sad"])
    rows = {r.group: r for r in table.rows}
    assert rows["day"].rates["accuracy"].rate == 1.0 and rows["night"].rates["accuracy"].rate == 0.5
    assert rows["night"].rates["recall:happy"].rate == 0.0 and "recall:sad" not in rows["night"].rates
    acc = next(s for s in table.spreads if s.metric == "accuracy")
    assert acc.ratio == pytest.approx(2.0) and acc.highest == "day"


def test_proportion_without_trials() -> None:
    p = proportion(0, 0)
    assert p.rate is None and (p.low, p.high) == (0.0, 1.0)


# --- progress ------------------------------------------------------------------------------------------------


def test_progress_off_a_terminal_prints_throttled_lines() -> None:
    out = io.StringIO()
    progress = StderrProgress(out, interval_s=math.inf)
    for done in range(0, 11):
        progress("embedding images", done, 10)
    progress.step("writing the report")
    lines = out.getvalue().splitlines()
    assert lines == [
        "facegate: embedding images: 0/10",
        "facegate: embedding images: 10/10",
        "facegate: writing the report",
    ]
    quiet = io.StringIO()
    StderrProgress(quiet, enabled=False)("x", 1, 2)
    assert quiet.getvalue() == ""


# --- the agent suite's terminal summary ------------------------------------------------------------------------


def test_agent_summary_has_a_per_rule_table() -> None:
    from evals import summary
    from evals.agent_eval import AgentEvalReport, ExpectedDecision, ScenarioReport, TurnReport

    def turn(expected: list[tuple[str, str, str]], actual: list[tuple[str, str, str]]) -> TurnReport:
        return TurnReport(
            user="verify",
            answer="",
            expected=[ExpectedDecision(tool=t, outcome=o, rule=r) for t, o, r in expected],  # type: ignore[arg-type]
            actual=[{"tool": t, "outcome": o, "rule": r} for t, o, r in actual],
            decisions_expected=len(expected),
            decisions_correct=0,
        )

    ok = ("verify_faces", "allow", "consent.active")
    missing = ("verify_faces", "needs_consent", "consent.missing")
    report = AgentEvalReport(
        suite="s",
        suite_sha256="0" * 64,
        reasoner="offline",
        n_scenarios=2,
        n_passed=1,
        policy_violations=0,
        wrongful_refusals=1,
        decision_accuracy=0.5,
        decisions_expected=2,
        decisions_correct=1,
        sensitive_leaks=0,
        tool_runs=1,
        audit_completeness=1.0,
        audit_chains_ok=2,
        elapsed_s=1.0,
        scenarios=[
            ScenarioReport(id="a", passed=True, turns=[turn([ok], [ok])], audit_chain_ok=True, elapsed_s=0.1),
            ScenarioReport(id="b", passed=False, turns=[turn([ok], [missing])], audit_chain_ok=True, elapsed_s=0.1),
        ],
    )
    text = summary.agent(report, "report.md in out")
    lines = text.splitlines()
    assert lines[0] == "agent suite s (offline reasoner): 1/2 scenarios passed"
    assert "did not pass: b" in text
    active = next(line for line in lines if "consent.active" in line)
    assert active.split()[1:4] == ["2", "1", "1"] and active.endswith("<-")  # expected, matched, seen
    assert next(line for line in lines if "consent.missing" in line).split()[1:4] == ["0", "0", "1"]
