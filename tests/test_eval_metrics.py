"""Evaluation metrics on synthetic scores with known answers (no models)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evals import metrics

SEPARATED_D = [0.1, 0.2, 0.5, 0.6]
SEPARATED_S = [True, True, False, False]


def test_auc_of_perfectly_separated_scores_is_one_and_of_reversed_is_zero() -> None:
    assert metrics.roc_auc(SEPARATED_D, SEPARATED_S) == 1.0
    assert metrics.roc_auc(SEPARATED_D, [not s for s in SEPARATED_S]) == 0.0


def test_auc_counts_ties_half() -> None:
    assert metrics.roc_auc([0.3, 0.3], [True, False]) == 0.5


def test_auc_known_value() -> None:
    # genuine 0.1, 0.4; impostor 0.3, 0.5: of the 4 (genuine, impostor) comparisons 3 are ordered right
    assert metrics.roc_auc([0.1, 0.4, 0.3, 0.5], [True, True, False, False]) == pytest.approx(0.75)


def test_eer_zero_when_separated_and_known_when_overlapping() -> None:
    assert metrics.equal_error_rate(SEPARATED_D, SEPARATED_S) == 0.0
    genuine = [0.1, 0.2, 0.3, 0.6]
    impostor = [0.4, 0.5, 0.7, 0.8]
    # at threshold 0.4: FAR 1/4 and FRR 1/4
    assert metrics.equal_error_rate(genuine + impostor, [True] * 4 + [False] * 4) == pytest.approx(0.25)


def test_eer_interpolates_between_roc_points() -> None:
    # the impostor is closer than the genuine pair: every threshold errs on one of them
    assert metrics.equal_error_rate([0.2, 0.1], [True, False]) == pytest.approx(1.0)
    # thresholds 0.1 (FAR 0, FRR .5) and 0.2 (FAR 1, FRR .5): FAR - FRR goes -0.5 -> 0.5, crossing halfway
    # at FAR = FRR = 0.5
    assert metrics.equal_error_rate([0.1, 0.2, 0.3], [True, False, True]) == pytest.approx(0.5)


def test_tar_at_far_allows_the_false_accepts_the_rate_allows() -> None:
    impostor = [0.05] + [0.5 + 0.1 * i for i in range(9)]  # 10 impostors, one very close
    genuine = [0.1, 0.2, 0.3, 0.55]
    d = genuine + impostor
    s = [True] * 4 + [False] * 10
    # FAR 0.1 allows 1 of 10 impostors: accept up to just below 0.5 -> 3 of 4 genuine
    assert metrics.tar_at_far(d, s, 0.1) == pytest.approx(0.75)
    # FAR 0.01 needs at least 100 impostors to say anything
    assert metrics.tar_at_far(d, s, 0.01) is None


def test_tar_at_far_zero_false_accepts() -> None:
    impostor = [0.05] + [0.5 + 0.001 * i for i in range(99)]  # 100 impostors
    genuine = [0.1, 0.2, 0.3]
    d = genuine + impostor
    s = [True] * 3 + [False] * 100
    # FAR 0.01 still allows the one close impostor
    assert metrics.tar_at_far(d, s, 0.01) == pytest.approx(1.0)
    assert metrics.tar_at_far(d, s, 0.001) is None


def test_best_threshold_sits_between_the_classes() -> None:
    t, acc = metrics.best_threshold(SEPARATED_D, SEPARATED_S)
    assert acc == 1.0
    assert 0.2 < t < 0.5
    assert metrics.accuracy_at(SEPARATED_D, SEPARATED_S, t) == 1.0


def test_best_threshold_with_overlap() -> None:
    d = [0.1, 0.2, 0.3, 0.25, 0.6]
    s = [True, True, True, False, False]
    t, acc = metrics.best_threshold(d, s)
    assert acc == pytest.approx(0.8)  # one of five must be wrong
    assert metrics.accuracy_at(d, s, t) == pytest.approx(acc)


def test_accuracy_at_uses_less_or_equal() -> None:
    assert metrics.accuracy_at([0.07, 0.08], [True, False], 0.07) == 1.0


def test_roc_curve_starts_at_origin_and_ends_at_one() -> None:
    roc = metrics.roc_curve([0.1, 0.4, 0.3, 0.5], [True, True, False, False])
    assert (roc.far[0], roc.tar[0]) == (0.0, 0.0)
    assert (roc.far[-1], roc.tar[-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc.far) >= 0) and np.all(np.diff(roc.tar) >= 0)


def test_metrics_refuse_one_class_only() -> None:
    with pytest.raises(ValueError):
        metrics.roc_auc([0.1, 0.2], [True, True])


def test_pair_distances_match_deepface_definitions() -> None:
    v = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    left = np.array([0, 0], dtype=np.intp)
    right = np.array([1, 2], dtype=np.intp)
    assert metrics.pair_distances(v, left, right, "cosine") == pytest.approx([1.0, 0.0])
    assert metrics.pair_distances(v, left, right, "euclidean") == pytest.approx([math.sqrt(5), 2.0])
    assert metrics.pair_distances(v, left, right, "euclidean_l2") == pytest.approx([math.sqrt(2), 0.0])
    with pytest.raises(ValueError):
        metrics.pair_distances(v, left, right, "manhattan")


@given(
    st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=30),
    st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=30),
)
def test_auc_is_symmetric_under_label_swap(genuine: list[float], impostor: list[float]) -> None:
    d = genuine + impostor
    s = [True] * len(genuine) + [False] * len(impostor)
    auc = metrics.roc_auc(d, s)
    assert 0.0 <= auc <= 1.0
    assert auc + metrics.roc_auc(d, [not x for x in s]) == pytest.approx(1.0)
    _, best = metrics.best_threshold(d, s)
    # the best threshold is at least as good as accepting everything or nothing
    assert best >= max(len(genuine), len(impostor)) / len(d) - 1e-12


def test_classification_metrics_known_confusion() -> None:
    labels = ("happy", "neutral", "sad")
    y_true = ["happy", "happy", "happy", "neutral", "neutral"]
    y_pred = ["happy", "happy", "neutral", "neutral", "sad"]
    m = metrics.classification_metrics(y_true, y_pred, labels)
    assert m.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 0]]
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.precision == {"happy": 1.0, "neutral": 0.5, "sad": 0.0}
    assert m.recall["happy"] == pytest.approx(2 / 3)
    assert m.recall["neutral"] == pytest.approx(0.5)
    assert m.recall["sad"] is None
    # sad is predicted once, so it counts in the macro average (F1 0), like scikit-learn
    assert m.macro_f1_labels == ("happy", "neutral", "sad")
    f1_happy = 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    assert m.macro_f1 == pytest.approx((f1_happy + 0.5 + 0.0) / 3)
    assert m.support == {"happy": 3, "neutral": 2, "sad": 0}


def test_classification_metrics_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError):
        metrics.classification_metrics(["joy"], ["happy"], ("happy",))
