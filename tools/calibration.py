"""A calibrated distance threshold: written by ``facegate eval calibrate``, read by the face engine.

The file holds the threshold that met an operator's target error rate on their own labelled pairs, the rates
measured there with their confidence intervals, and the recipe and metric it was measured for. The engine uses
it as the operator's threshold only for that recipe and metric (a distance means nothing for another one), and
only when no threshold is set explicitly. A purpose can still only tighten it (``agent/nodes.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import ConfigError
from tools.results import EmbeddingRecipe


class Proportion(BaseModel):
    """``k`` of ``n`` (errors among pairs, correct among images), with a Clopper-Pearson interval at
    ``confidence``."""

    model_config = ConfigDict(frozen=True)

    k: int = Field(ge=0)
    n: int = Field(ge=0)
    rate: float | None  # None: n == 0
    low: float
    high: float
    confidence: float = 0.95


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: Literal[1] = 1
    threshold: float = Field(gt=0)
    metric: str
    recipe: EmbeddingRecipe
    target: Literal["far", "frr"]
    target_rate: float = Field(gt=0, lt=1)
    confidence: float = Field(gt=0, lt=1)
    far: Proportion
    frr: Proportion
    threshold_interval: tuple[float, float] | None = None  # bootstrap percentile interval of the threshold
    dataset_sha256: str
    pairs_file: str
    created_at: str

    def applies_to(self, recipe: EmbeddingRecipe, metric: str) -> bool:
        return self.recipe == recipe and self.metric == metric


def load_calibration(path: Path) -> Calibration | None:
    """The calibration in ``path``; None when there is no such file.

    Raises:
        ConfigError: the file exists but cannot be read or is not a calibration (a threshold file that
            silently stopped applying would loosen nothing, but the operator must know it is broken).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the calibration file {path}: {exc.strerror}", path=str(path)) from exc
    try:
        return Calibration.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            f"{path} is not a facegate calibration ({first}); run `facegate eval calibrate` again or remove it",
            path=str(path),
        ) from exc


def write_calibration(path: Path, calibration: Calibration) -> None:
    """Write atomically (a reader never sees half a file), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(calibration.model_dump_json(indent=2) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
