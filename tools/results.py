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


class EmbeddingRecipe(_Frozen):
    """How an embedding was computed. Two embeddings are comparable only when their recipes are equal: a
    distance between a mirror-averaged vector and a plain one, or between crops found at different detection
    sizes, is not what the threshold was set for.

    ``detect_max_side`` and ``align`` are None for a template stored before facegate recorded recipes: such a
    template matches no engine and must be enrolled again.
    """

    model: str
    detector: str
    detect_max_side: int | None  # 0: detection at full size
    align: bool | None
    mirror: bool  # the crop's embedding averaged with its horizontal mirror's

    @property
    def recorded(self) -> bool:
        return self.detect_max_side is not None and self.align is not None

    def describe(self) -> str:
        """One line a person can read, e.g. "Dlib + dlib on <= 640 px copies, aligned, mirror-averaged"."""
        if not self.recorded:
            return f"{self.model} + {self.detector} (made before facegate recorded how templates are computed)"
        size = "full-size images" if self.detect_max_side == 0 else f"<= {self.detect_max_side} px copies"
        return (
            f"{self.model} + {self.detector} on {size}, {'aligned' if self.align else 'not aligned'}, "
            f"{'mirror-averaged' if self.mirror else 'no mirror averaging'}"
        )


class FaceReference(_Frozen):
    """An enrolled template to single one person's face out by, in an image that shows several.

    ``vector`` is biometric data: never log it, never give it to a reasoner. ``recipe``: how it was computed (a
    probe must be embedded the same way; None: only the engine's model and detector are assumed). ``subject``:
    whose it is, for messages only.
    """

    vector: tuple[float, ...] = Field(repr=False)
    recipe: EmbeddingRecipe | None = None
    subject: str | None = None


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
    recipe: EmbeddingRecipe | None = None  # always set by FaceEngine; optional for hand-built results
    singled_out: bool = False  # one of several faces, the only one matching a reference (FaceEngine.single_out)


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
    recipe: EmbeddingRecipe | None = None  # how both sides were embedded (they always match)
    # where the threshold came from: "argument" (a purpose's stricter one), "setting" (FACEGATE_THRESHOLD),
    # "calibration" (``facegate eval calibrate``) or "model" (DeepFace's for the model and metric)
    threshold_source: str | None = None
    # image a / b showed several faces and the compared one was singled out by a reference (an enrolled template)
    singled_out_a: bool = False
    singled_out_b: bool = False


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
    faces_seen: int | None = None  # faces the detectors found (None: as many as ``faces``)
    singled_out: bool = False  # several faces were found and only the one singled out by a reference is here
