"""What the face engine returns: pydantic models, JSON-serialisable, holding no pixels.

Boxes are always in the ORIGINAL image's coordinates (after EXIF orientation), whatever scale the engine
decoded or detected at. Embedding vectors are excluded from ``repr`` so they do not end up in logs by
accident.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

EXPRESSION_CAVEAT = (
    "appearance-based expression estimate, not a reading of the person's inner state: a model trained on "
    "posed and web photos (FER2013-style labels) scores how the face looks, which can differ from how the "
    "person feels and varies with culture, lighting, pose and occlusion"
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FaceBox(_Frozen):
    """A face's bounding box in original image pixels (x, y: top-left corner)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


class DetectedFace(_Frozen):
    box: FaceBox
    confidence: float | None = None


class DetectionResult(_Frozen):
    image_sha256: str
    width: int
    height: int
    detector: str
    faces: list[DetectedFace]
    elapsed_ms: float


class FaceEmbedding(_Frozen):
    """One face's embedding. ``vector`` is biometric data: never log it, never give it to a reasoner."""

    image_sha256: str
    model: str
    detector: str
    aligned: bool
    vector: tuple[float, ...] = Field(repr=False)
    box: FaceBox
    faces_in_image: int
    used_largest_face: bool
    detector_confidence: float | None = None
    notes: list[str] = Field(default_factory=list)


class VerificationResult(_Frozen):
    verified: bool
    distance: float
    threshold: float
    metric: str
    model: str
    detector: str
    box_a: FaceBox
    box_b: FaceBox | None  # None when b is a stored template
    faces_in_a: int
    faces_in_b: int | None
    used_largest_face: bool
    notes: list[str]
    elapsed_ms: float
    image_a_sha256: str
    image_b_sha256: str | None
    kind: Literal["verification"] = "verification"  # tells results apart in a typed union (agent replies)


class FaceExpression(_Frozen):
    box: FaceBox
    scores: dict[str, float]  # the seven EMOTIONS, summing to 1
    dominant: str
    detector_confidence: float | None = None


class ExpressionResult(_Frozen):
    image_sha256: str
    backend: Literal["deepface", "fer"]
    detector: str  # "none" when a small pre-cropped face was classified whole
    faces: list[FaceExpression]
    caveat: str = EXPRESSION_CAVEAT
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list)
    kind: Literal["expression"] = "expression"  # tells results apart in a typed union (agent replies)
