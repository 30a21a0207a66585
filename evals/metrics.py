"""Evaluation metrics in plain numpy: verification (distances, lower = more alike) and classification.

Conventions: a pair is predicted "same" when ``distance <= threshold`` (DeepFace's rule). TAR is the share of
genuine pairs accepted, FAR the share of impostor pairs accepted, FRR = 1 - TAR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def pair_distances(vectors: FloatArray, left: NDArray[np.intp], right: NDArray[np.intp], metric: str) -> FloatArray:
    """Distances of all pairs at once (``vectors[left[i]]`` against ``vectors[right[i]]``), as DeepFace
    defines them."""
    a = vectors[left]
    b = vectors[right]
    if metric == "cosine":
        dot = np.einsum("ij,ij->i", a, b)
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        return np.asarray(1.0 - dot / np.maximum(norms, 1e-12), dtype=np.float64)
    if metric == "euclidean":
        return np.asarray(np.linalg.norm(a - b, axis=1), dtype=np.float64)
    if metric == "euclidean_l2":
        an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return np.asarray(np.linalg.norm(an - bn, axis=1), dtype=np.float64)
    raise ValueError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class RocCurve:
    """ROC points for thresholds ascending; ``far[0] == tar[0] == 0`` (nothing accepted)."""

    thresholds: FloatArray
    far: FloatArray
    tar: FloatArray


def _split(
    distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    if d.shape != s.shape:
        raise ValueError("distances and labels differ in length")
    return d[s], d[~s]


def roc_curve(distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_]) -> RocCurve:
    """TAR and FAR at every distinct distance used as threshold (plus -inf: accept nothing)."""
    genuine, impostor = _split(distances, same)
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("ROC needs both genuine and impostor pairs")
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    tar = np.searchsorted(np.sort(genuine), thresholds, side="right") / genuine.size
    far = np.searchsorted(np.sort(impostor), thresholds, side="right") / impostor.size
    return RocCurve(
        thresholds=np.concatenate([[-np.inf], thresholds]),
        far=np.concatenate([[0.0], far]),
        tar=np.concatenate([[0.0], tar]),
    )


def roc_auc(distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_]) -> float:
    """Area under the ROC curve: the chance a genuine pair is closer than an impostor pair (ties: half)."""
    genuine, impostor = _split(distances, same)
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("AUC needs both genuine and impostor pairs")
    imp_sorted = np.sort(impostor)
    greater = impostor.size - np.searchsorted(imp_sorted, genuine, side="right")
    ties = np.searchsorted(imp_sorted, genuine, side="right") - np.searchsorted(imp_sorted, genuine, side="left")
    return float((greater.sum() + 0.5 * ties.sum()) / (genuine.size * impostor.size))


def equal_error_rate(distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_]) -> float:
    """The error rate where FAR equals FRR, interpolated linearly between neighbouring ROC points."""
    roc = roc_curve(distances, same)
    frr = 1.0 - roc.tar
    diff = roc.far - frr  # rises from -1 (accept nothing) to +1 (accept all)
    idx = int(np.argmax(diff >= 0))
    if idx == 0 or diff[idx] == 0:
        return float((roc.far[idx] + frr[idx]) / 2)
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1)
    far = roc.far[idx - 1] + w * (roc.far[idx] - roc.far[idx - 1])
    fr = frr[idx - 1] + w * (frr[idx] - frr[idx - 1])
    return float((far + fr) / 2)


def tar_at_far(
    distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_], far_target: float
) -> float | None:
    """The highest TAR whose FAR is at most ``far_target``; None when the impostor pairs are too few to tell
    (fewer than ``1 / far_target``: one false accept would already exceed the target)."""
    _, impostor = _split(distances, same)
    if impostor.size < math.ceil(1.0 / far_target - 1e-9):
        return None
    roc = roc_curve(distances, same)
    ok = roc.far <= far_target + 1e-12
    return float(roc.tar[ok].max())


def accuracy_at(
    distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_], threshold: float
) -> float:
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    if d.size == 0:
        return float("nan")
    return float(np.mean((d <= threshold) == s))


def best_threshold(
    distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_]
) -> tuple[float, float]:
    """The threshold with the highest accuracy on these very pairs, and that accuracy.

    Candidates are midpoints between neighbouring distinct distances (plus one below the lowest and one above
    the highest), so the threshold does not sit on a sample. Chosen on the test pairs: an optimistic figure.
    """
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    if d.size == 0:
        raise ValueError("no pairs")
    u = np.unique(d)
    candidates = np.concatenate([[u[0] - 1e-6], (u[:-1] + u[1:]) / 2, [u[-1] + 1e-6]])
    # accepted genuine and accepted impostor counts at each candidate, vectorised
    gen = np.sort(d[s])
    imp = np.sort(d[~s])
    tp = np.searchsorted(gen, candidates, side="right")
    fp = np.searchsorted(imp, candidates, side="right")
    correct = tp + (imp.size - fp)
    i = int(np.argmax(correct))
    return float(candidates[i]), float(correct[i] / d.size)


# --- classification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassificationMetrics:
    labels: tuple[str, ...]
    confusion: list[list[int]]  # rows: true label, columns: predicted label, in ``labels`` order
    accuracy: float
    precision: dict[str, float | None]  # None: the class was never predicted
    recall: dict[str, float | None]  # None: the class never occurs in the truth
    f1: dict[str, float]
    macro_f1: float
    macro_f1_labels: tuple[str, ...]  # the classes averaged: those in the truth or the predictions
    support: dict[str, int]


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> ClassificationMetrics:
    """Accuracy, per-class precision and recall, F1, macro F1 and the confusion matrix.

    Macro F1 averages over the classes present in the truth or the predictions (as scikit-learn does), with
    F1 = 0 where precision or recall is undefined.
    """
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    index = {label: i for i, label in enumerate(labels)}
    for v in (*y_true, *y_pred):
        if v not in index:
            raise ValueError(f"label {v!r} not among {list(labels)}")
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    precision: dict[str, float | None] = {}
    recall: dict[str, float | None] = {}
    f1: dict[str, float] = {}
    support: dict[str, int] = {}
    for label, i in index.items():
        tp = int(cm[i, i])
        predicted = int(cm[:, i].sum())
        actual = int(cm[i, :].sum())
        support[label] = actual
        prec = tp / predicted if predicted else 0.0
        rec = tp / actual if actual else 0.0
        precision[label] = prec if predicted else None
        recall[label] = rec if actual else None
        f1[label] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    present = tuple(lab for lab in labels if support[lab] or cm[:, index[lab]].sum())
    macro = float(np.mean([f1[lab] for lab in present])) if present else float("nan")
    total = int(cm.sum())
    return ClassificationMetrics(
        labels=tuple(labels),
        confusion=cm.tolist(),
        accuracy=float(np.trace(cm) / total) if total else float("nan"),
        precision=precision,
        recall=recall,
        f1=f1,
        macro_f1=macro,
        macro_f1_labels=present,
        support=support,
    )


# --- intervals and rates at a threshold -----------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (the Beta(a, b) distribution's CDF at x)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _beta_ppf(q: float, a: float, b: float) -> float:
    """The q-quantile of Beta(a, b), by bisection on :func:`betainc` (monotone in x)."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a proportion of ``k`` events in ``n`` trials.

    Conservative: its coverage is at least ``confidence`` whatever the true rate. ``(0, 1)`` when ``n == 0``.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else _beta_ppf(alpha / 2.0, k, n - k + 1)
    high = 1.0 if k == n else _beta_ppf(1.0 - alpha / 2.0, k + 1, n - k)
    return low, high


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound: the rate is at most this with ``confidence``."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0 or k == n:
        return 1.0
    return _beta_ppf(confidence, k + 1, n - k)


def trials_needed(target: float, confidence: float = 0.95) -> int:
    """The fewest trials that can show a rate at most ``target`` with ``confidence`` (with no error at all:
    ``1 - (1 - confidence) ** (1 / n) <= target``, the "rule of three" for 95%)."""
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    return math.ceil(math.log(1.0 - confidence) / math.log1p(-target) - 1e-9)


@dataclass(frozen=True)
class ErrorRates:
    """False match and false non-match counts of the scored pairs at one threshold."""

    threshold: float
    false_matches: int  # impostor pairs accepted (distance <= threshold)
    impostors: int
    false_non_matches: int  # genuine pairs refused
    genuines: int

    @property
    def fmr(self) -> float | None:
        return self.false_matches / self.impostors if self.impostors else None

    @property
    def fnmr(self) -> float | None:
        return self.false_non_matches / self.genuines if self.genuines else None


def error_rates(
    distances: Sequence[float] | FloatArray, same: Sequence[bool] | NDArray[np.bool_], threshold: float
) -> ErrorRates:
    genuine, impostor = _split(distances, same)
    return ErrorRates(
        threshold=float(threshold),
        false_matches=int(np.sum(impostor <= threshold)),
        impostors=int(impostor.size),
        false_non_matches=int(np.sum(genuine > threshold)),
        genuines=int(genuine.size),
    )


def threshold_for_target(
    distances: Sequence[float] | FloatArray,
    same: Sequence[bool] | NDArray[np.bool_],
    target: float,
    kind: str,
) -> float:
    """The threshold meeting an error-rate target on these pairs.

    ``kind="far"``: the most permissive threshold whose false-accept rate is at most ``target`` (the fewest
    false rejections that target allows). ``kind="frr"``: the strictest threshold whose false-reject rate is at
    most ``target`` (the fewest false accepts). Thresholds sit midway between neighbouring distances, so no pair
    lies on one.
    """
    d = np.asarray(distances, dtype=np.float64)
    genuine, impostor = _split(d, same)
    u = np.unique(d)
    if u.size == 0:
        raise ValueError("no pairs")
    candidates = np.concatenate([[u[0] / 2.0 if u[0] > 0 else u[0] - 1e-6], (u[:-1] + u[1:]) / 2.0, [u[-1] + 1e-6]])
    if kind == "far":
        if impostor.size == 0:
            raise ValueError("a false-accept target needs impostor pairs")
        far = np.searchsorted(np.sort(impostor), candidates, side="right") / impostor.size
        return float(candidates[far <= target + 1e-12].max())
    if kind == "frr":
        if genuine.size == 0:
            raise ValueError("a false-reject target needs genuine pairs")
        frr = 1.0 - np.searchsorted(np.sort(genuine), candidates, side="right") / genuine.size
        return float(candidates[frr <= target + 1e-12].min())
    raise ValueError(f"kind must be far or frr, got {kind!r}")


# --- calibration of scores ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> tuple[float, list[ReliabilityBin]]:
    """Expected calibration error and its bins.

    ECE = sum over equal-width confidence bins of (share of predictions in the bin) x |accuracy - mean
    confidence| in the bin: how far a score of "0.9" is from being right 90% of the time.
    """
    c = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if c.shape != ok.shape:
        raise ValueError("confidences and correct differ in length")
    if c.size == 0:
        raise ValueError("no predictions")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(c, edges[1:-1], right=True), 0, bins - 1)
    out: list[ReliabilityBin] = []
    ece = 0.0
    for i in range(bins):
        mask = which == i
        n = int(mask.sum())
        if n:
            conf, acc = float(c[mask].mean()), float(ok[mask].mean())
            ece += n / c.size * abs(acc - conf)
            out.append(ReliabilityBin(float(edges[i]), float(edges[i + 1]), n, conf, acc))
        else:
            out.append(ReliabilityBin(float(edges[i]), float(edges[i + 1]), 0, None, None))
    return float(ece), out
