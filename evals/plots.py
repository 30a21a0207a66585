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


def roc_png(path: Path, far: Sequence[float], tar: Sequence[float], *, auc: float | None, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    try:
        ax.plot(far, tar, drawstyle="steps-post", label=f"ROC (AUC {auc:.4f})" if auc is not None else "ROC")
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
        ax.set_xlabel("false accept rate (FAR)")
        ax.set_ylabel("true accept rate (TAR)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
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
