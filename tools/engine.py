"""The face engine: detection, embeddings, verification and expression analysis over DeepFace.

Cost model: each image costs one detection and one embedding. Detection runs on a copy downscaled so that
its longer side is at most ``settings.detect_max_side`` (default 640: FEASIBILITY.md measured Dlib on <= 640
and <= 800 px copies as accurate as at full size and 4-6x faster; on facegate's shipped set 640 was the more
accurate, faster and lighter of the two, see the README); the aligned crop DeepFace cuts from that
copy is embedded directly (``DeepFace.represent`` with ``detector_backend="skip"``), so there is no second
detection. Boxes are mapped back to the original image's coordinates. Embeddings are kept in a bounded,
thread-safe LRU cache keyed by the image's sha256 and the embedding recipe (model, detector, detect size,
alignment, mirror averaging): an evaluation over N photos and M pairs embeds N times.

Mirror averaging (``settings.embedding_mirror``): the aligned crop and its horizontal mirror are embedded in one
batch and the two unit vectors averaged (scaled back to their mean length, so Euclidean thresholds keep their
meaning). Every embedding carries its :class:`~tools.results.EmbeddingRecipe`; a stored template is compared
only with a probe made by the same recipe (:class:`~tools.errors.TemplateMismatch` otherwise).

Several faces (bystanders): with ``require_single_face`` an image showing several faces is refused before any of
them is embedded. Given a reference (an enrolled template, :class:`~tools.results.FaceReference`), the one face
that matches it can be singled out instead (:meth:`FaceEngine.single_out`): every face is embedded once in memory
and compared with the reference, and only the face within the threshold, if it is the only one, is used; the
others' embeddings are dropped at once (never cached, returned or logged). Expression analysis does the same:
only the singled-out face is classified.

Face evidence: where no detector has looked at the pixels (a small crop classified whole, detector ``skip``),
a real detector must find a face first (:mod:`tools.evidence`), so random noise or a coffee cup is not "a face".

Nothing is loaded in ``__init__``; DeepFace is imported on first use and keeps its models process-wide; the
FER expression interpreter lives on the engine instance.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tools import deepface_adapter as adapter
from tools.errors import (
    FaceNotFound,
    FaceNotSingledOut,
    ModelUnavailable,
    MultipleFaces,
    TemplateMismatch,
    UserError,
)
from tools.images import ImageSource, LoadedImage, load_image, sha256_of
from tools.results import (
    EMOTIONS,
    DetectedFace,
    DetectionResult,
    EmbeddingRecipe,
    ExpressionResult,
    FaceBox,
    FaceEmbedding,
    FaceExpression,
    FaceReference,
    VerificationResult,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tools.calibration import Calibration
    from tools.expression import FerClassifier
    from tools.settings import EngineSettings

# Pre-cropped faces at most this large (e.g. FER2013's 48 x 48 crops) are classified whole: detectors rarely
# find a face that fills the whole frame at that size.
SMALL_FACE_MAX_SIDE = 96

# How much the fallback widens a dlib box for the expression model (measured on the package photos: at 20-30%
# grace_hopper reads neutral as with the Haar crop; at 0% "sad").
_FALLBACK_EXPAND = 25

CacheKey = tuple[str, str, str, bool, int, bool]


class _LRU:
    """A small thread-safe LRU map with hit/miss counters."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[CacheKey, FaceEmbedding] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> FaceEmbedding | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: CacheKey, value: FaceEmbedding) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def discard(self, sha256: str) -> int:
        """Drop every entry of one image (all model/detector variants); returns how many."""
        with self._lock:
            keys = [k for k in self._data if k[0] == sha256]
            for key in keys:
                del self._data[key]
            return len(keys)

    def info(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "size": len(self._data),
                "maxsize": self.maxsize,
            }


class FaceEngine:
    """Face detection, verification and expression analysis. Cheap to build: nothing loads until first use."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._cache = _LRU(settings.embedding_cache_size)
        self._fer: FerClassifier | None = None
        self._fer_lock = threading.Lock()
        self._calibration_seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._calibration: Calibration | None = None
        self._calibration_lock = threading.Lock()

    # --- input -----------------------------------------------------------------------------------------

    def load(self, source: ImageSource) -> LoadedImage:
        return load_image(source, self.settings)

    # --- detection -------------------------------------------------------------------------------------

    def detect(self, source: ImageSource) -> DetectionResult:
        """Every face the configured detector finds, largest first, boxes in original coordinates."""
        start = time.perf_counter()
        image = self.load(source)
        faces = self._faces(image, self.settings.detector)
        return DetectionResult(
            image_sha256=image.sha256,
            width=image.original_width,
            height=image.original_height,
            detector=self.settings.detector,
            faces=[DetectedFace(box=box, confidence=raw.confidence) for raw, box in faces],
            elapsed_ms=_ms(start),
        )

    def _faces(
        self, image: LoadedImage, detector: str, *, expand_percentage: int = 0
    ) -> list[tuple[adapter.RawFace, FaceBox]]:
        small, sx, sy = self._detection_copy(image)
        raw = adapter.extract_faces(
            self.settings,
            small,
            detector=detector,
            align=self.settings.align,
            expand_percentage=expand_percentage,
        )
        mapped = [(face, _to_original(face, sx, sy, image)) for face in raw]
        mapped.sort(key=lambda pair: pair[1].area, reverse=True)
        return mapped

    def _detection_copy(self, image: LoadedImage) -> tuple[np.ndarray, float, float]:
        """The array to detect on and the factors (original px per detection px) for x and y."""
        import cv2

        array = image.array
        limit = self.settings.detect_max_side
        h, w = array.shape[:2]
        if limit and max(h, w) > limit:
            ratio = limit / max(h, w)
            size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
            array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
        dh, dw = array.shape[:2]
        return array, image.original_width / dw, image.original_height / dh

    # --- embeddings ------------------------------------------------------------------------------------

    def recipe(self) -> EmbeddingRecipe:
        """How this engine computes embeddings (what a template records and a probe must match)."""
        s = self.settings
        return EmbeddingRecipe(
            model=s.model,
            detector=s.detector,
            detect_max_side=s.detect_max_side,
            align=s.align,
            mirror=s.embedding_mirror,
        )

    def _cache_key(self, sha256: str) -> CacheKey:
        s = self.settings
        return (sha256, s.model, s.detector, s.align, s.detect_max_side, s.embedding_mirror)

    def embed(self, source: ImageSource, *, require_single_face: bool | None = None) -> FaceEmbedding:
        """The embedding of the image's face (the largest one when there are several), cached."""
        single = self.settings.require_single_face if require_single_face is None else require_single_face
        key = self._cache_key(sha256_of(source, self.settings))
        found = self._cache.get(key)
        if found is None:
            found = self._compute_embedding(self.load(source), single=single)
            self._cache.put(key, found)
        if single and found.faces_in_image > 1:
            raise MultipleFaces(
                f"exactly one face was required and the image holds {found.faces_in_image}",
                faces=found.faces_in_image,
            )
        return found

    def _compute_embedding(self, image: LoadedImage, *, single: bool = False) -> FaceEmbedding:
        if self.settings.detector == "skip" and not self.has_face_evidence(image):
            raise FaceNotFound("no face was found in the image (detector skip: the image must be a face crop)")
        faces = self._faces(image, self.settings.detector)
        if not faces:
            raise FaceNotFound(f"no face was found in the image (detector {self.settings.detector})")
        if single and len(faces) > 1:
            # before any face is embedded: the largest one may well be someone else's
            raise MultipleFaces(f"exactly one face was required and the image holds {len(faces)}", faces=len(faces))
        raw, box = faces[0]
        notes = [f"{len(faces)} faces found; the largest was used"] if len(faces) > 1 else []
        return self._embedding(image, raw, box, self._represent(raw.crop), len(faces), notes)

    def _embedding(
        self,
        image: LoadedImage,
        raw: adapter.RawFace,
        box: FaceBox,
        vector: Sequence[float],
        faces: int,
        notes: list[str],
        *,
        singled_out: bool = False,
    ) -> FaceEmbedding:
        return FaceEmbedding(
            image_sha256=image.sha256,
            model=self.settings.model,
            detector=self.settings.detector,
            aligned=self.settings.align,
            vector=tuple(vector),
            box=box,
            faces_in_image=faces,
            used_largest_face=faces > 1 and not singled_out,
            detector_confidence=raw.confidence,
            notes=notes,
            recipe=self.recipe(),
            singled_out=singled_out,
        )

    def _represent(self, crop: np.ndarray) -> list[float]:
        if not self.settings.embedding_mirror:
            return adapter.represent_crop(self.settings, crop)
        plain, mirrored = adapter.represent_crops(self.settings, [crop, np.ascontiguousarray(crop[:, ::-1])])
        return mirror_average(plain, mirrored)

    def single_out(
        self, source: ImageSource, reference: FaceReference, *, threshold: float | None = None
    ) -> FaceEmbedding:
        """The one face of the image that matches ``reference``, embedded by this engine's recipe.

        Every face the detector finds is embedded once, in memory, and compared with the reference; the face
        within the threshold is returned only when it is the only one. The other faces' embeddings are dropped
        at once: never cached, returned or logged.

        Raises:
            TemplateMismatch: the reference was computed by another recipe.
            FaceNotFound: no face in the image.
            FaceNotSingledOut: no face, or more than one, matches the reference (``faces_seen``, ``matching``).
        """
        self._check_recipe(reference.recipe, reference.subject)
        limit, _ = self._threshold(threshold)
        image = self.load(source)
        faces = self._faces(image, self.settings.detector)
        if not faces:
            raise FaceNotFound(f"no face was found in the image (detector {self.settings.detector})")
        matches: list[tuple[int, list[float]]] = []
        for i, (raw, _box) in enumerate(faces):
            vector = self._represent(raw.crop)
            if adapter.distance(vector, reference.vector, self.settings.metric) <= limit:
                matches.append((i, vector))
            del vector  # a bystander's embedding goes no further than this comparison
        whose = f"{reference.subject}'s" if reference.subject else "the reference"
        if len(matches) != 1:
            found = "none of them matches" if not matches else f"{len(matches)} of them match"
            raise FaceNotSingledOut(
                f"the image shows {len(faces)} faces and {found} {whose} enrolled template",
                faces_seen=len(faces),
                matching=len(matches),
            )
        index, vector = matches[0]
        raw, box = faces[index]
        note = f"{len(faces)} faces found; only the one matching {whose} enrolled template was used"
        return self._embedding(image, raw, box, vector, len(faces), [note], singled_out=True)

    def _face(
        self,
        source: ImageSource,
        reference: FaceReference | None,
        single: bool | None,
        threshold: float | None,
        side: str | None = None,
    ) -> FaceEmbedding:
        """The image's face: the only one (cached), or, when there are several and a reference is given, the one
        that matches it (:meth:`single_out`). ``side`` ("a", "b") goes into the errors' details."""
        try:
            if reference is None:
                return self.embed(source, require_single_face=single)
            try:
                return self.embed(source, require_single_face=True)
            except MultipleFaces:
                return self.single_out(source, reference, threshold=threshold)
        except (MultipleFaces, FaceNotSingledOut) as exc:
            if side is None:
                raise
            raise type(exc)(exc.message, **{**exc.details, "image": side}) from None

    def has_face_evidence(self, image: LoadedImage) -> bool:
        """Whether a real detector finds a face filling most of ``image`` (:func:`tools.evidence.has_face`).

        For images no detector would otherwise look at: a small crop classified whole, or any image under
        detector ``skip``.
        """
        from tools.evidence import has_face

        return has_face(self.settings, image.array)

    def cache_info(self) -> dict[str, int]:
        return self._cache.info()

    def clear_cache(self) -> None:
        self._cache.clear()

    def forget(self, sha256: str) -> bool:
        """Drop one image's cached embeddings (a probe that must not be retained); True when any were held."""
        return self._cache.discard(sha256) > 0

    # --- verification ----------------------------------------------------------------------------------

    def default_threshold(self) -> float:
        """The operator's threshold: ``settings.threshold`` when set, else a calibration
        (``facegate eval calibrate``) made for this engine's recipe and metric, else DeepFace's tuned threshold
        for the model and metric."""
        return self.threshold_and_source()[0]

    def threshold_and_source(self) -> tuple[float, str]:
        """:meth:`default_threshold` and where it came from: ``setting``, ``calibration`` or ``model``."""
        if self.settings.threshold is not None:
            return float(self.settings.threshold), "setting"
        calibration = self.calibration()
        if calibration is not None and calibration.applies_to(self.recipe(), self.settings.metric):
            return float(calibration.threshold), "calibration"
        return adapter.default_threshold(self.settings), "model"

    def calibration(self) -> Calibration | None:
        """The calibration file's content (re-read when the file changes); None when there is none.

        Raises:
            ConfigError: the file exists but is not a calibration.
        """
        from tools.calibration import load_calibration

        path: Path = self.settings.resolved_calibration_file
        try:
            st = path.stat()
        except OSError:
            return None
        with self._calibration_lock:
            seen = (st.st_mtime_ns, st.st_size)
            if seen != self._calibration_seen:
                self._calibration = load_calibration(path)
                self._calibration_seen = seen
            return self._calibration

    def model_threshold(self) -> float:
        """DeepFace's tuned threshold for the configured model and metric, whatever ``settings.threshold`` says.

        A purpose's stricter threshold is a fraction of this one (a distance only means something for its
        model and metric).
        """
        return adapter.default_threshold(self.settings)

    def _threshold(self, override: float | None) -> tuple[float, str]:
        if override is not None:
            if override <= 0:
                raise UserError("threshold must be positive", threshold=override)
            return float(override), "argument"
        return self.threshold_and_source()

    def verify(
        self,
        a: ImageSource,
        b: ImageSource,
        *,
        require_single_face: bool | None = None,
        threshold: float | None = None,
        reference_a: FaceReference | None = None,
        reference_b: FaceReference | None = None,
    ) -> VerificationResult:
        """Whether the faces in ``a`` and ``b`` belong to the same person.

        Args:
            reference_a, reference_b: when that image shows several faces, compare only the one that matches this
                enrolled template (:meth:`single_out`), never the largest.
        """
        start = time.perf_counter()
        limit, source = self._threshold(threshold)
        ea = self._face(a, reference_a, require_single_face, threshold, "a")
        eb = self._face(b, reference_b, require_single_face, threshold, "b")
        dist = adapter.distance(ea.vector, eb.vector, self.settings.metric)
        notes = [f"image a: {n}" for n in ea.notes] + [f"image b: {n}" for n in eb.notes]
        return VerificationResult(
            verified=dist <= limit,
            distance=dist,
            threshold=limit,
            metric=self.settings.metric,
            model=self.settings.model,
            detector=self.settings.detector,
            box_a=ea.box,
            box_b=eb.box,
            faces_in_a=ea.faces_in_image,
            faces_in_b=eb.faces_in_image,
            used_largest_face=ea.used_largest_face or eb.used_largest_face,
            notes=notes,
            elapsed_ms=_ms(start),
            image_a_sha256=ea.image_sha256,
            image_b_sha256=eb.image_sha256,
            recipe=ea.recipe,
            threshold_source=source,
            singled_out_a=ea.singled_out,
            singled_out_b=eb.singled_out,
        )

    def verify_against_template(
        self,
        probe: ImageSource,
        template: Sequence[float],
        *,
        template_model: str,
        template_detector: str,
        template_recipe: EmbeddingRecipe | None = None,
        subject: str | None = None,
        threshold: float | None = None,
        single_out: bool = False,
    ) -> VerificationResult:
        """Compare a probe image with a stored embedding made by the same recipe.

        Args:
            template_recipe: how the template was computed (``Template.recipe`` from the store). Without it
                only the model and detector can be checked.
            subject: who the template belongs to; only used to spell out the re-enrol command.
            single_out: when the probe shows several faces, compare only the one that matches the template
                (:meth:`single_out`; :class:`FaceNotSingledOut` when not exactly one does), never the largest.

        Raises:
            TemplateMismatch: the template was computed another way than this engine computes the probe.
        """
        start = time.perf_counter()
        stored = self._check_recipe(template_recipe, subject, model=template_model, detector=template_detector)
        limit, source = self._threshold(threshold)
        if single_out:
            reference = FaceReference(vector=tuple(float(v) for v in template), recipe=stored, subject=subject)
            ep = self._face(probe, reference, True, threshold)
        else:
            ep = self.embed(probe)
        if len(template) != len(ep.vector):
            raise UserError(
                f"the template has {len(template)} dimensions, the model gives {len(ep.vector)}",
                template_dims=len(template),
            )
        dist = adapter.distance(ep.vector, [float(v) for v in template], self.settings.metric)
        return VerificationResult(
            verified=dist <= limit,
            distance=dist,
            threshold=limit,
            metric=self.settings.metric,
            model=self.settings.model,
            detector=self.settings.detector,
            box_a=ep.box,
            box_b=None,
            faces_in_a=ep.faces_in_image,
            faces_in_b=None,
            used_largest_face=ep.used_largest_face,
            notes=[f"probe: {n}" for n in ep.notes],
            elapsed_ms=_ms(start),
            image_a_sha256=ep.image_sha256,
            image_b_sha256=None,
            recipe=ep.recipe,
            threshold_source=source,
            singled_out_a=ep.singled_out,
        )

    def _check_recipe(
        self,
        stored: EmbeddingRecipe | None,
        subject: str | None,
        *,
        model: str | None = None,
        detector: str | None = None,
    ) -> EmbeddingRecipe:
        """The stored template's recipe, which must equal this engine's (:class:`TemplateMismatch` otherwise).
        Without one (a caller that has only the model and detector), what the caller knows is checked."""
        current = self.recipe()
        recipe = stored
        if recipe is None:
            recipe = current.model_copy(
                update={"model": model or current.model, "detector": detector or current.detector}
            )
        if recipe != current:
            raise _template_mismatch(recipe, current, subject)
        return recipe

    # --- expression ------------------------------------------------------------------------------------

    def expression_backend(self) -> str:
        """ "deepface" when configured so, or on "auto" when DeepFace's own emotion weights are present."""
        choice = self.settings.expression_backend
        if choice == "auto":
            from tools.weights import deepface_emotion_available

            return "deepface" if deepface_emotion_available(self.settings) else "fer"
        return choice

    def analyze_expression(
        self,
        source: ImageSource,
        *,
        assume_face: bool | None = None,
        single: bool = False,
        reference: FaceReference | None = None,
        threshold: float | None = None,
    ) -> ExpressionResult:
        """Expression scores for every face in the image, largest first.

        Args:
            source: the image.
            assume_face: True: the image is a face crop, classify it whole without a detector; False: always
                detect; None: classify whole when the image's longer side is at most 96 px (e.g. 48 x 48
                crops).
            single: an image showing several faces is refused (:class:`MultipleFaces`) before any face is
                classified, unless ``reference`` singles one out.
            reference: when the image shows several faces, classify only the one that matches this enrolled
                template (:meth:`single_out`, at ``threshold``); ``faces_seen`` says how many there were.
        """
        start = time.perf_counter()
        image = self.load(source)
        whole = assume_face if assume_face is not None else max(image.width, image.height) <= SMALL_FACE_MAX_SIDE
        if whole and assume_face is None and not self.has_face_evidence(image):
            # a small image is classified whole only when a detector agrees it is a face: noise is not
            raise FaceNotFound(
                f"no face was found in the image ({image.width} x {image.height} px, too small to search as a "
                "photo, and no detector found a face filling it)"
            )
        backend = self.expression_backend()
        notes: list[str] = []
        detector = "none" if whole else self.settings.expression_detector
        faces: list[FaceExpression] = []
        seen: int | None = None
        target: FaceEmbedding | None = None
        restrict = (single or reference is not None) and not whole
        if backend == "deepface":
            if restrict:
                seen = len(self._faces(image, detector))
                target = self._target(seen, reference, image, threshold)
            if target is not None:
                faces = [self._deepface_face(image, target.box)]
            else:
                faces = self._deepface_expressions(image, whole, detector)
        else:
            fer = self._fer_classifier()
            mirror = self.settings.expression_mirror
            if whole:
                box = FaceBox(x=0, y=0, w=image.original_width, h=image.original_height)
                faces = [_expression(box, fer.classify(image.array, mirror=mirror), None)]
            else:
                found = self._faces(image, detector)
                if not found and self.settings.detector != detector:
                    # the Haar cascade misses faces dlib finds (turned, small): fall back to the
                    # main detector, widening its tight box towards the crop the FER model expects
                    detector = self.settings.detector
                    found = self._faces(image, detector, expand_percentage=_FALLBACK_EXPAND)
                    notes.append(f"no face found by {self.settings.expression_detector}; used {detector}")
                if restrict:
                    seen = len(found)
                    target = self._target(seen, reference, image, threshold)
                    if target is not None:
                        found = [self._overlapping(image, found, target.box)]
                faces = [_expression(box, fer.classify(raw.crop, mirror=mirror), raw.confidence) for raw, box in found]
        if not faces:
            raise FaceNotFound(f"no face was found in the image (detector {detector})")
        if whole:
            notes.append("the image was treated as one face crop (no detector)")
        if target is not None:
            seen = max(seen or 0, target.faces_in_image)
            notes.append(f"{seen} faces found; only the one matching the reference was analysed")
        return ExpressionResult(
            image_sha256=image.sha256,
            backend="deepface" if backend == "deepface" else "fer",
            detector=detector,
            faces=faces,
            elapsed_ms=_ms(start),
            notes=notes,
            faces_seen=seen if seen is not None and seen > len(faces) else None,
            singled_out=target is not None,
        )

    def _target(
        self, seen: int, reference: FaceReference | None, image: LoadedImage, threshold: float | None
    ) -> FaceEmbedding | None:
        """None when at most one face was found; else the face ``reference`` singles out (raises when none)."""
        if seen <= 1:
            return None
        if reference is None:
            # the count a person reads: the recognition detector finds faces the Haar cascade misses (turned, small)
            seen = max(seen, len(self._faces(image, self.settings.detector)))
            raise MultipleFaces(f"exactly one face was required and the image holds {seen}", faces=seen)
        return self.single_out(image, reference, threshold=threshold)

    def _overlapping(
        self, image: LoadedImage, found: list[tuple[adapter.RawFace, FaceBox]], box: FaceBox
    ) -> tuple[adapter.RawFace, FaceBox]:
        """The expression detector's face that is the singled-out face (the best overlap with its box); where that
        detector missed it, the main detector's widened crop of it (as for a face the Haar cascade misses)."""
        best = max(found, key=lambda pair: _iou(pair[1], box), default=None)
        if best is not None and _iou(best[1], box) >= _SAME_FACE_IOU:
            return best
        wider = self._faces(image, self.settings.detector, expand_percentage=_FALLBACK_EXPAND)
        best = max(wider, key=lambda pair: _iou(pair[1], box), default=None)
        if best is None or _iou(best[1], box) <= 0:
            raise FaceNotFound("the singled-out face could not be found again for expression analysis")
        return best

    def _deepface_face(self, image: LoadedImage, box: FaceBox) -> FaceExpression:
        """DeepFace's emotion model on the one face at ``box`` (cut out, widened): no other face is classified."""
        scale = image.scale
        pad_w, pad_h = box.w * _FALLBACK_EXPAND // 100, box.h * _FALLBACK_EXPAND // 100
        x0, y0 = max(0, round((box.x - pad_w) * scale)), max(0, round((box.y - pad_h) * scale))
        x1 = min(image.width, round((box.x + box.w + pad_w) * scale))
        y1 = min(image.height, round((box.y + box.h + pad_h) * scale))
        crop = np.ascontiguousarray(image.array[y0:y1, x0:x1])
        [(raw, percent)] = adapter.analyze_emotion(self.settings, crop, detector="skip", align=False)[:1]
        total = sum(percent.get(e, 0.0) for e in EMOTIONS) or 1.0
        return _expression(box, {e: percent.get(e, 0.0) / total for e in EMOTIONS}, raw.confidence)

    def _deepface_expressions(self, image: LoadedImage, whole: bool, detector: str) -> list[FaceExpression]:
        small, sx, sy = self._detection_copy(image)
        detector = "skip" if whole else detector
        found = adapter.analyze_emotion(self.settings, small, detector=detector, align=self.settings.align)
        out = []
        for raw, percent in found:
            total = sum(percent.get(e, 0.0) for e in EMOTIONS) or 1.0
            scores = {e: percent.get(e, 0.0) / total for e in EMOTIONS}
            out.append(_expression(_to_original(raw, sx, sy, image), scores, raw.confidence))
        out.sort(key=lambda f: f.box.area, reverse=True)
        return out

    def _fer_classifier(self) -> FerClassifier:
        with self._fer_lock:
            if self._fer is None:
                from tools.expression import FerClassifier

                self._fer = FerClassifier()
            return self._fer

    # --- readiness -------------------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Raise :class:`ModelUnavailable` now (not mid-request) when the configured models cannot run."""
        adapter.recognition_ready(self.settings, self.settings.detector)
        from tools.weights import deepface_emotion_available

        if self.expression_backend() == "fer":
            self._fer_classifier()
        elif not self.settings.allow_downloads and not deepface_emotion_available(self.settings):
            raise ModelUnavailable(
                "DeepFace's emotion weights are missing and downloads are off",
                fix="set FACEGATE_EXPRESSION_BACKEND=fer (works offline)",
            )


def mirror_average(plain: Sequence[float], mirrored: Sequence[float]) -> list[float]:
    """The mean of two embeddings' unit vectors, scaled to their mean length.

    Unit vectors first so that neither view dominates; the length restored so that Euclidean thresholds tuned
    on plain embeddings keep their scale (cosine distances ignore it).
    """
    a = np.asarray(plain, dtype=np.float64)
    b = np.asarray(mirrored, dtype=np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return [float(v) for v in (a + b) / 2.0]
    mean = (a / na + b / nb) / 2.0
    norm = float(np.linalg.norm(mean))
    scaled = mean / norm * (na + nb) / 2.0 if norm > 0 else mean
    return [float(v) for v in scaled]


def _template_mismatch(stored: EmbeddingRecipe, current: EmbeddingRecipe, subject: str | None) -> TemplateMismatch:
    who = subject or "SUBJECT"
    fix = f"facegate enroll {who} PHOTO --purpose PURPOSE"
    return TemplateMismatch(
        f"the stored template was computed as {stored.describe()}; this engine computes {current.describe()}, "
        f"and the two cannot be compared. Enrol {who} again with the current settings: {fix}",
        template_recipe=stored.model_dump(mode="json"),
        engine_recipe=current.model_dump(mode="json"),
        fix=fix,
    )


def _to_original(face: adapter.RawFace, sx: float, sy: float, image: LoadedImage) -> FaceBox:
    x = max(0, min(image.original_width - 1, round(face.x * sx)))
    y = max(0, min(image.original_height - 1, round(face.y * sy)))
    w = max(1, min(image.original_width - x, round(face.w * sx)))
    h = max(1, min(image.original_height - y, round(face.h * sy)))
    return FaceBox(x=x, y=y, w=w, h=h)


def _expression(box: FaceBox, scores: dict[str, float], confidence: float | None) -> FaceExpression:
    dominant = max(EMOTIONS, key=lambda e: scores.get(e, 0.0))
    return FaceExpression(box=box, scores=scores, dominant=dominant, detector_confidence=confidence)


_SAME_FACE_IOU = 0.3  # two detectors' boxes of one face overlap far more than this (opencv vs dlib on t1.jpg: 0.8)


def _iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / float(a.area + b.area - inter)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)
