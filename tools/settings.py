"""Settings the face engine needs. The agent's :class:`agent.settings.Settings` extends this class, so one
settings object, built at the edge, is passed down to everything; nothing below the edge reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".facegate"


def absolute_path(value: object, *, name: str) -> object:
    """A path setting as given: an empty string is an error (it would silently mean the working directory);
    ``~`` is expanded and a relative path made absolute, so messages name the real place."""
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{name} is empty; give a folder or unset the variable for the default")
    if isinstance(value, str | Path):
        try:
            return Path(value).expanduser().absolute()
        except RuntimeError as exc:  # "~" with no home directory to expand it to
            raise ValueError(f"{name}: {exc}") from None
    return value


class EngineSettings(BaseSettings):
    """Face-engine settings. Environment variables use the prefix ``FACEGATE_`` (e.g. ``FACEGATE_DETECTOR``)."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", extra="ignore", validate_default=True)

    home: Path = Field(default_factory=default_home, description="facegate's own folder: weights, database.")
    model: str = Field("Dlib", description="DeepFace recognition model name.")
    detector: str = Field("dlib", description="DeepFace detector backend (dlib, opencv, skip, ...).")
    metric: Literal["cosine", "euclidean", "euclidean_l2"] = "cosine"
    threshold: float | None = Field(None, gt=0, description="Override DeepFace's threshold for model+metric.")
    align: bool = True
    detect_max_side: int = Field(
        640, ge=0, description="Detect on a copy downscaled so its longer side is at most this (0: off)."
    )
    require_single_face: bool = Field(False, description="Refuse images holding more than one face.")
    embedding_mirror: bool = Field(
        False,
        description="Average the aligned face's embedding with its horizontal mirror's (each unit-normalised "
        "first). Part of a template's recipe: changing it means enrolling again. Default chosen by measurement "
        "(README, 'Mirror-averaged embeddings').",
    )
    calibration_file: Path | None = Field(
        None,
        description="Threshold written by `facegate eval calibrate` (default <home>/calibration.json); used "
        "when no threshold is set and its recipe and metric match the engine's.",
    )
    expression_backend: Literal["auto", "deepface", "fer"] = "auto"
    expression_mirror: bool = Field(True, description="Average expression scores over the face and its mirror.")
    expression_detector: str = Field(
        "opencv",
        description="Detector for expression analysis: the FER model expects the looser Haar-cascade "
        "face crops (dlib's tight boxes turn a neutral face 'sad'); falls back to `detector` when it "
        "finds no face.",
    )
    max_image_bytes: int = Field(40 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(64_000_000, gt=0, description="Decompression-bomb guard.")
    allowed_image_dirs: list[Path] | None = Field(
        None, description="When set, image paths must lie inside one of these folders."
    )
    allow_downloads: bool = Field(False, description="Let DeepFace download missing weights (connected machines only).")
    embedding_cache_size: int = Field(4096, ge=0)
    # --- provenance (C2PA; the optional extra facegate[provenance]) ---------------------------------------
    trust_anchors: Path | None = Field(
        None,
        description="PEM file of the root certificates whose signed captures count as trusted (C2PA). Unset: "
        "no signer is trusted, and purposes that require a trusted capture 'when anchors are configured' "
        "do not require it.",
    )
    provenance_remote_manifests: bool = Field(
        False, description="Let the C2PA reader fetch a manifest an image points to on the network."
    )
    provenance_ocsp: bool = Field(
        False, description="Let the C2PA reader ask the signer's CA over the network (OCSP) about revocation."
    )
    # Liveness nonces (facegate capture nonce): how long a capture app has to use one. Short: a nonce only has
    # to outlive one capture, and every second it lives is a second in which it can be stolen.
    capture_nonce_ttl_s: int = Field(300, ge=1, le=86_400)

    @field_validator("home", mode="before")
    @classmethod
    def _home(cls, value: object) -> object:
        return absolute_path(value, name="home")

    @field_validator("trust_anchors", mode="before")
    @classmethod
    def _anchors(cls, value: object) -> object:
        return absolute_path(value, name="trust_anchors")

    @field_validator("calibration_file", mode="before")
    @classmethod
    def _calibration_file(cls, value: object) -> object:
        return absolute_path(value, name="calibration_file")

    @property
    def resolved_calibration_file(self) -> Path:
        return self.calibration_file or self.home / "calibration.json"

    @property
    def weights_dir(self) -> Path:
        """Where DeepFace looks for weights: ``$DEEPFACE_HOME/.deepface/weights`` with DEEPFACE_HOME = home."""
        return self.home / ".deepface" / "weights"
