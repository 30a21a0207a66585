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
