"""Scoring a pair list: each distinct image embedded once (in worker processes), then every pair's distance in
numpy. Shared by ``facegate eval verification`` and ``facegate eval calibrate``; also the checks that make a
wrong ``--root`` or an unscorable list an error instead of an empty report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from evals import metrics
from evals.datasets import Pair, dataset_sha256, read_pairs, resolve
from evals.errors import EvalError
from evals.executors import ExecutorName, ProgressFn, RunStats, run_images
from evals.workers import ImageOutcome

if TYPE_CHECKING:
    from agent.settings import Settings


class FailedImage(BaseModel):
    file: str
    error_code: str
    error: str


@dataclass(frozen=True)
class ScoredPairs:
    """A pair list's distances: each distinct image embedded once, every scorable pair's distance in numpy."""

    pairs: list[Pair]
    images: list[str]  # distinct relative paths
    digest: str
    outcomes: dict[str, ImageOutcome]
    stats: RunStats
    failed: list[FailedImage]
    scorable: list[Pair]
    dist: np.ndarray  # per scorable pair
    same: np.ndarray
    threshold: float  # the engine's (operator's) threshold and where it came from
    threshold_source: str


def score_pairs(
    settings: Settings,
    pairs_file: Path,
    root: Path,
    *,
    workers: int | None = None,
    executor: ExecutorName = "local",
    ray_address: str | None = None,
    progress: ProgressFn | bool | None = None,
) -> ScoredPairs:
    """Embed every image of ``pairs_file`` once and compute the distance of every pair whose images worked.

    Raises:
        EvalError: no listed image exists under ``root``, or no pair could be scored.
    """
    pairs = read_pairs(pairs_file, root)
    rel_images = list(dict.fromkeys([p.img1 for p in pairs] + [p.img2 for p in pairs]))
    abs_of = {rel: str(resolve(root, rel)) for rel in rel_images}
    check_images_exist(abs_of, pairs_file, root)
    digest = dataset_sha256(pairs_file, root, rel_images)
    outcomes, stats = run_images(
        "embed",
        [abs_of[r] for r in rel_images],
        settings,
        executor=executor,
        workers=workers,
        ray_address=ray_address,
        progress=progress,
    )
    index: dict[str, int] = {}
    vectors: list[list[float]] = []
    failed: list[FailedImage] = []
    for rel in rel_images:
        o = outcomes[abs_of[rel]]
        if o.ok and o.vector is not None:
            index[rel] = len(vectors)
            vectors.append(o.vector)
        else:
            failed.append(FailedImage(file=rel, error_code=o.error_code or "error", error=o.error or ""))
    # the workers' engines report the threshold, so this process never loads DeepFace
    if settings.threshold is not None:
        threshold, source = float(settings.threshold), "setting"
    elif stats.threshold is not None:
        threshold, source = float(stats.threshold), stats.threshold_source or "model"
    else:
        threshold, source = _threshold_here(settings)
    scorable = [p for p in pairs if p.img1 in index and p.img2 in index]
    if not scorable:
        raise no_pair_scored(len(pairs), failed, pairs_file)
    mat = np.asarray(vectors, dtype=np.float64)
    left = np.array([index[p.img1] for p in scorable], dtype=np.intp)
    right = np.array([index[p.img2] for p in scorable], dtype=np.intp)
    return ScoredPairs(
        pairs=pairs,
        images=rel_images,
        digest=digest,
        outcomes=outcomes,
        stats=stats,
        failed=failed,
        scorable=scorable,
        dist=metrics.pair_distances(mat, left, right, settings.metric),
        same=np.array([p.same for p in scorable], dtype=bool),
        threshold=threshold,
        threshold_source=source,
    )


def shipped_set_notes(root: Path) -> list[str]:
    """The caveat a prepared set carries (``manifest.json`` written by ``facegate eval prepare``)."""
    manifest = root / "manifest.json"
    if not manifest.is_file():
        return []
    try:
        caveat = json.loads(manifest.read_text(encoding="utf-8")).get("caveat")
    except (OSError, ValueError):
        return []
    return [str(caveat)] if caveat else []


def _threshold_here(settings: Settings) -> tuple[float, str]:
    """Only when no worker reported one."""
    from tools.engine import FaceEngine

    return FaceEngine(settings).threshold_and_source()


def check_images_exist(abs_of: dict[str, str], list_file: Path, root: Path) -> None:
    """Fail before any worker starts when not one image of the list exists under ``root`` (a wrong --root)."""
    if abs_of and not any(Path(p).is_file() for p in abs_of.values()):
        example = next(iter(abs_of))
        raise EvalError(
            f"none of the {len(abs_of)} images that {list_file.name} names exists under --root {root} "
            f"(e.g. {example!r} is not {abs_of[example]}): is --root the folder the paths are relative to?",
            root=str(root),
            images=len(abs_of),
        )


def failure_counts(failed: list[FailedImage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in failed:
        counts[f.error_code] = counts.get(f.error_code, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def no_pair_scored(n_pairs: int, failed: list[FailedImage], list_file: Path) -> EvalError:
    codes = ", ".join(f"{n} {code}" for code, n in failure_counts(failed).items())
    return EvalError(
        f"no pair of {list_file.name} could be scored: {len(failed)} image(s) failed ({codes}) and every one of "
        f"the {n_pairs} pair(s) touches one",
        failed_images=len(failed),
        pairs=n_pairs,
    )
