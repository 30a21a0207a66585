"""Fakes for fast graph tests: a face engine with the real engine's method names and result models.

The fake decodes images with the real :func:`tools.images.load_image` (so hashes are real) and decides who is
pictured from a label the test gives each generated photo. Same person: a tiny distance; different: a large one.
A group photo (``crowd``) shows several people, largest first: it is refused where one face is required and
singled out by a reference (an enrolled template) as the real engine does.
"""

from __future__ import annotations

import hashlib
import io
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tools.errors import FaceNotFound, FaceNotSingledOut, MultipleFaces
from tools.images import LoadedImage, load_image
from tools.results import (
    EXPRESSION_CAVEAT,
    DetectedFace,
    DetectionResult,
    ExpressionResult,
    FaceBox,
    FaceEmbedding,
    FaceExpression,
    FaceReference,
    VerificationResult,
)
from tools.settings import EngineSettings

BOX = FaceBox(x=4, y=4, w=24, h=24)


def png_bytes(seed: int, size: int = 32) -> bytes:
    """A small distinct PNG (noise) for a seed."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class FakeFaceEngine:
    """Same method names as :class:`tools.engine.FaceEngine`, no models. Records every call."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        threshold: float = 0.07,
        model_threshold: float | None = None,
        distance_scale: float = 1.0,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.threshold = threshold  # default_threshold(): the operator's, else the model's
        self._model_threshold = threshold if model_threshold is None else model_threshold
        # distances of another metric's range (euclidean_l2 distances are larger than cosine ones)
        self.distance_scale = distance_scale
        self.people: dict[str, str | None] = {}  # sha256 -> person (None: no face)
        self.crowds: dict[str, list[str]] = {}  # sha256 -> the people a group photo shows, largest first
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.forgotten: list[str] = []
        self._seed = 0

    def photo(self, person: str | None, variant: int = 0) -> bytes:
        """Generated image bytes the fake will treat as showing ``person`` (None: no face)."""
        self._seed += 1
        # crc32, not hash(): str hashes change with every process (PYTHONHASHSEED), and so did the distances
        # between a person's photos, which made tests near a threshold pass or fail by chance
        data = png_bytes(1000 * (zlib.crc32(str(person).encode()) % 997) + 17 * variant + self._seed)
        self.people[hashlib.sha256(data).hexdigest()] = person
        return data

    def load(self, source: Any) -> LoadedImage:
        if isinstance(source, LoadedImage):
            return source
        return load_image(source, self.settings)

    def crowd(self, *people: str) -> bytes:
        """A generated group photo the fake treats as showing ``people`` (largest face first)."""
        data = self.photo(people[0], variant=len(people))
        self.crowds[hashlib.sha256(data).hexdigest()] = list(people)
        return data

    def _person(self, image: LoadedImage) -> str:
        person = self.people.get(image.sha256, "unknown-" + image.sha256[:6])
        if person is None:
            raise FaceNotFound("no face found in the image", sha256=image.sha256[:12])
        return person

    def _faces(self, image: LoadedImage) -> list[str]:
        return self.crowds.get(image.sha256) or [self._person(image)]

    def _box(self, i: int) -> FaceBox:
        return BOX if i == 0 else FaceBox(x=40 * i, y=4, w=20, h=20)

    def detect(self, source: Any) -> DetectionResult:
        image = self.load(source)
        self.calls.append(("detect", (image.sha256,)))
        faces = self._faces(image)
        return DetectionResult(
            image_sha256=image.sha256, width=image.width, height=image.height, detector=self.settings.detector,
            faces=[DetectedFace(box=self._box(i), confidence=0.99) for i in range(len(faces))], elapsed_ms=0.1,
        )  # fmt: skip

    def embed(self, source: Any, *, require_single_face: bool | None = None) -> FaceEmbedding:
        image = self.load(source)
        faces = self._faces(image)
        if require_single_face and len(faces) > 1:
            raise MultipleFaces(f"exactly one face was required and the image holds {len(faces)}", faces=len(faces))
        self.calls.append(("embed", (image.sha256,)))
        return FaceEmbedding(
            image_sha256=image.sha256, model=self.settings.model, detector=self.settings.detector, aligned=True,
            vector=_vector(faces[0], image.sha256), box=BOX, faces_in_image=len(faces),
            used_largest_face=len(faces) > 1,
        )  # fmt: skip

    def single_out(self, source: Any, reference: FaceReference, *, threshold: float | None = None) -> FaceEmbedding:
        image = self.load(source)
        self.calls.append(("single_out", (image.sha256,)))
        faces = self._faces(image)
        limit = threshold if threshold is not None else self.threshold
        vectors = [_vector(person, f"{image.sha256}-{i}") for i, person in enumerate(faces)]
        matches = [i for i, v in enumerate(vectors) if self._distance(v, reference.vector) <= limit]
        if len(matches) != 1:
            raise FaceNotSingledOut(
                f"the image shows {len(faces)} faces and {len(matches)} match", faces_seen=len(faces),
                matching=len(matches),
            )  # fmt: skip
        i = matches[0]
        return FaceEmbedding(
            image_sha256=image.sha256, model=self.settings.model, detector=self.settings.detector, aligned=True,
            vector=vectors[i], box=self._box(i), faces_in_image=len(faces), used_largest_face=False,
            singled_out=True,
        )  # fmt: skip

    def default_threshold(self) -> float:
        return self.threshold

    def model_threshold(self) -> float:
        return self._model_threshold

    def _face(self, source: Any, reference: FaceReference | None, single: bool | None, threshold: float | None,
              side: str) -> FaceEmbedding:  # fmt: skip
        try:
            if reference is None:
                return self.embed(source, require_single_face=single)
            try:
                return self.embed(source, require_single_face=True)
            except MultipleFaces:
                return self.single_out(source, reference, threshold=threshold)
        except (MultipleFaces, FaceNotSingledOut) as exc:
            raise type(exc)(exc.message, **{**exc.details, "image": side}) from None

    def verify(self, a: Any, b: Any, *, require_single_face: bool | None = None, threshold: float | None = None,
               reference_a: FaceReference | None = None,
               reference_b: FaceReference | None = None) -> VerificationResult:  # fmt: skip
        ia, ib = self.load(a), self.load(b)
        self.calls.append(("verify", (ia.sha256, ib.sha256)))
        ea = self._face(ia, reference_a, require_single_face, threshold, "a")
        eb = self._face(ib, reference_b, require_single_face, threshold, "b")
        result = self._result(ea.vector, eb.vector, ia.sha256, ib.sha256, threshold)
        return result.model_copy(update={
            "faces_in_a": ea.faces_in_image, "faces_in_b": eb.faces_in_image, "box_a": ea.box, "box_b": eb.box,
            "singled_out_a": ea.singled_out, "singled_out_b": eb.singled_out,
        })  # fmt: skip

    def verify_against_template(
        self,
        probe: Any,
        template: Sequence[float],
        *,
        template_model: str,
        template_detector: str,
        template_recipe: Any = None,  # the real engine refuses a template made by another recipe
        subject: str | None = None,
        threshold: float | None = None,
        single_out: bool = False,
    ) -> VerificationResult:
        ip = self.load(probe)
        self.calls.append(("verify_against_template", (ip.sha256,)))
        reference = FaceReference(vector=tuple(template), subject=subject) if single_out else None
        ep = self._face(ip, reference, None, threshold, "a")
        result = self._result(ep.vector, tuple(template), ip.sha256, None, threshold)
        return result.model_copy(
            update={"faces_in_a": ep.faces_in_image, "box_a": ep.box, "singled_out_a": ep.singled_out}
        )

    def _distance(self, va: Sequence[float], vb: Sequence[float]) -> float:
        dot = sum(x * y for x, y in zip(va, vb, strict=True))
        cos = 1 - dot / (math.sqrt(sum(x * x for x in va)) * math.sqrt(sum(y * y for y in vb)))
        return round(cos * self.distance_scale, 6)

    def _result(self, va: Sequence[float], vb: Sequence[float], sa: str, sb: str | None,
                threshold: float | None) -> VerificationResult:  # fmt: skip
        dist = self._distance(va, vb)
        limit = threshold if threshold is not None else self.threshold
        return VerificationResult(
            verified=dist <= limit, distance=dist, threshold=limit, metric=self.settings.metric,
            model=self.settings.model,
            detector=self.settings.detector, box_a=BOX, box_b=BOX if sb else None, faces_in_a=1,
            faces_in_b=1 if sb else None, used_largest_face=False, notes=[], elapsed_ms=0.1,
            image_a_sha256=sa, image_b_sha256=sb,
        )  # fmt: skip

    def analyze_expression(self, source: Any, *, single: bool = False, reference: FaceReference | None = None,
                           threshold: float | None = None) -> ExpressionResult:  # fmt: skip
        image = self.load(source)
        faces = self._faces(image)
        seen = None
        boxes = [self._box(i) for i in range(len(faces))]
        if len(faces) > 1 and (single or reference is not None):
            if reference is None:
                raise MultipleFaces(f"exactly one face was required and the image holds {len(faces)}",
                                    faces=len(faces))  # fmt: skip
            boxes, seen = [self.single_out(image, reference, threshold=threshold).box], len(faces)
        self.calls.append(("analyze_expression", (image.sha256,)))
        scores = {"angry": 0.01, "disgust": 0.0, "fear": 0.01, "happy": 0.9, "sad": 0.02, "surprise": 0.03,
                  "neutral": 0.03}  # fmt: skip
        return ExpressionResult(
            image_sha256=image.sha256, backend="fer", detector=self.settings.detector,
            faces=[FaceExpression(box=box, scores=scores, dominant="happy", detector_confidence=0.99)
                   for box in boxes],
            caveat=EXPRESSION_CAVEAT, elapsed_ms=0.1, faces_seen=seen, singled_out=seen is not None,
        )  # fmt: skip

    def forget(self, sha256: str) -> None:
        self.forgotten.append(sha256)

    def ran(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


def _vector(person: str, sha: str) -> tuple[float, ...]:
    base = np.frombuffer(hashlib.sha256(person.encode()).digest() * 4, dtype=np.uint8)[:128].astype(float) - 127
    noise = np.frombuffer(hashlib.sha256(sha.encode()).digest() * 4, dtype=np.uint8)[:128].astype(float) - 127
    v = base + 0.05 * noise
    return tuple(float(x) for x in v)


class ScriptedReasoner:
    """A reasoner that replays queued steps and records what it was shown (``seen``)."""

    name = "scripted"

    def __init__(self, *steps: Any) -> None:
        from agent.reasoners.base import ReasonerStep

        self.steps: list[ReasonerStep] = list(steps)
        self.seen: list[tuple[list[Any], Any]] = []

    def enqueue(self, *steps: Any) -> ScriptedReasoner:
        self.steps.extend(steps)
        return self

    def next_step(self, transcript: Any, tools: Any, context: Any) -> Any:
        from agent.reasoners.base import ReasonerStep

        self.seen.append((list(transcript), context))
        return self.steps.pop(0) if self.steps else ReasonerStep(text="(no more scripted steps)")


def call(name: str, call_id: str = "", **args: Any) -> Any:
    """A ReasonerStep asking for one tool call."""
    from agent.graph.messages import ToolCall
    from agent.reasoners.base import ReasonerStep

    return ReasonerStep(tool_calls=[ToolCall(id=call_id, name=name, args=args)])


def say(text: str) -> Any:
    from agent.reasoners.base import ReasonerStep

    return ReasonerStep(text=text)


def verification_result(**fields: Any) -> VerificationResult:
    """A complete VerificationResult with plausible values; ``fields`` override them (tests set what they test)."""
    base: dict[str, Any] = {
        "verified": True, "distance": 0.03, "threshold": 0.07, "metric": "cosine", "model": "Dlib",
        "detector": "dlib", "box_a": BOX, "box_b": BOX, "faces_in_a": 1, "faces_in_b": 1, "used_largest_face": False,
        "notes": [], "elapsed_ms": 1.0, "image_a_sha256": "a" * 64, "image_b_sha256": "b" * 64,
    }  # fmt: skip
    return VerificationResult(**{**base, **fields})


def expression_result(faces: list[dict[str, Any]], **fields: Any) -> ExpressionResult:
    """An ExpressionResult for faces given as ``{"dominant": ..., "scores": {...}, "box": {...}}``."""
    parsed = [FaceExpression(**{"box": BOX, **face}) for face in faces]
    base: dict[str, Any] = {"image_sha256": "a" * 64, "backend": "fer", "detector": "opencv", "elapsed_ms": 1.0}
    return ExpressionResult(faces=parsed, **{**base, **fields})
