"""Figures for evaluation reports. matplotlib is imported only here, lazily, with the Agg backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def roc_png(
    path: Path,
    far: Sequence[float],
    tar: Sequence[float],
    *,
    auc: float | None,
    title: str,
    n_impostor: int | None = None,
    threshold: float | None = None,
    at_threshold: tuple[float, float] | None = None,
) -> None:
    """ROC with a logarithmic false-accept axis (the low-FAR end is where access control lives).

    FAR 0 cannot sit on a log axis: it is drawn at half of one impostor pair's share (``0.5 / n_impostor``),
    and the axis says so. ``at_threshold`` (FAR, TAR) marks the operating point of the configured threshold.
    """
    plt = _pyplot()
    floor = 0.5 / n_impostor if n_impostor else 1e-4
    xs = [max(f, floor) for f in far]
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    try:
        ax.plot(xs, tar, drawstyle="steps-post", label=f"ROC (AUC {auc:.4f})" if auc is not None else "ROC")
        grid = [floor * (1 / floor) ** (i / 50) for i in range(51)]
        ax.plot(grid, grid, linestyle=":", color="grey", label="chance")
        if at_threshold is not None:
            fx, ty = at_threshold
            ax.plot([max(fx, floor)], [ty], "o", color="crimson", zorder=5)
            label = f"threshold {threshold:.4f}" if threshold is not None else "threshold"
            ax.annotate(
                f"{label}\nFAR {100 * fx:.2f}%, TAR {100 * ty:.2f}%",
                (max(fx, floor), ty),
                textcoords="offset points",
                xytext=(12, -28),
                fontsize=8,
                color="crimson",
                arrowprops={"arrowstyle": "-", "color": "crimson"},
            )
        ax.set_xscale("log")
        ax.set_xlim(floor / 1.5, 1.0)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel(f"false accept rate (FAR, log scale; 0 drawn at {floor:.1e})")
        ax.set_ylabel("true accept rate (TAR)")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def groups_png(path: Path, tables: Sequence[Any], *, title: str) -> bool:
    """One panel per group column: each group's rates (FMR and FNMR, or accuracy) with their intervals.

    Returns False (and writes nothing) when there is nothing to draw.
    """
    drawable = [t for t in tables if t.rows]
    if not drawable:
        return False
    plt = _pyplot()
    metrics = ("fmr", "fnmr") if drawable[0].kind == "verification" else ("accuracy",)
    heights = [max(1.6, 0.35 * len(t.rows) + 1.0) for t in drawable]
    fig, axes = plt.subplots(len(drawable), 1, figsize=(7, sum(heights)), dpi=100, squeeze=False)
    try:
        for ax, table in zip(axes[:, 0], drawable, strict=True):
            names = [r.group for r in table.rows]
            width = 0.8 / len(metrics)
            top = 0.0
            for j, metric in enumerate(metrics):
                # a group with no pair of this kind (no impostors, say) has no rate: no bar, not a 0-1 interval
                shown = [(i, r.rates[metric]) for i, r in enumerate(table.rows) if r.rates[metric].n]
                if not shown:
                    continue
                ys = [i + (j - (len(metrics) - 1) / 2) * width for i, _ in shown]
                xs = [p.rate or 0.0 for _, p in shown]
                err = [[max(0.0, x - p.low) for x, (_, p) in zip(xs, shown, strict=True)],
                       [max(0.0, p.high - x) for x, (_, p) in zip(xs, shown, strict=True)]]  # fmt: skip
                ax.barh(ys, xs, height=width, xerr=err, capsize=3, label=metric.upper(), alpha=0.8)
                top = max(top, *(p.high for _, p in shown))
            ax.set_yticks(range(len(names)), names, fontsize=8)
            ax.set_xlim(0, min(1.0, max(0.05, top * 1.1)))
            ax.set_title(f"{table.column}", fontsize=9)
            ax.grid(alpha=0.3, axis="x")
            if len(metrics) > 1:
                ax.legend(fontsize=7, loc="lower right")
        fig.suptitle(f"{title} (bars: 95% intervals)", fontsize=10)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return True


def reliability_png(path: Path, bins: Sequence[Any], *, ece: float, title: str) -> None:
    """Reliability diagram: accuracy against mean score per confidence bin; the diagonal is perfect."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    try:
        filled = [b for b in bins if b.count]
        ax.bar(
            [(b.low + b.high) / 2 for b in filled],
            [b.accuracy for b in filled],
            width=[b.high - b.low for b in filled],
            edgecolor="black",
            alpha=0.7,
            label="accuracy in bin",
        )
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
        for b in filled:
            ax.text((b.low + b.high) / 2, 0.02, str(b.count), ha="center", fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("score of the predicted expression")
        ax.set_ylabel("share right")
        ax.set_title(f"{title}: ECE {ece:.3f}", fontsize=10)
        ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def confusion_png(path: Path, matrix: Sequence[Sequence[int]], labels: Sequence[str], *, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5), dpi=100)
    try:
        im = ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10)
        top = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
