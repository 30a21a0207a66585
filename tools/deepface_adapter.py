"""The one place facegate talks to DeepFace: lazy import, weight checks, calls, and error translation.

DeepFace quirks this module absorbs:
- importing ``deepface.DeepFace`` has side effects (it creates ``$DEEPFACE_HOME/.deepface/weights`` and
  picks a backend engine), so it is imported on first use only, never at facegate import time;
- it downloads any weight file it does not find, so before every call that may build a model we provision what
  installed packages ship and raise :class:`ModelUnavailable` for what is still missing when downloads are off;
- it keeps built models in a process-wide cache, so models stay loaded across calls and engines;
- it answers with dicts and raises ``ValueError`` subclasses ("Face could not be detected ..."): translated
  here, once, into :mod:`tools.errors` with ``raise ... from exc``.

All DeepFace calls are serialised by one process-wide lock: DeepFace's model cache is a plain dict filled on
first use and dlib's detector is not documented as thread-safe. On a 2-core machine this costs little.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from tools.errors import EngineError, FacegateError, FaceNotFound, ModelUnavailable
from tools.weights import (
    DOWNLOAD_HINT,
    deepface_backend,
    deepface_emotion_available,
    detector_requirement,
    emotion_weights_name,
    ensure_weights,  # provisions a fresh home from installed packages, then checks (tools/weights.py)
    model_requirement,
    package_dir,
)

if TYPE_CHECKING:
    from tools.settings import EngineSettings

_LOCK = threading.RLock()


@dataclass(frozen=True)
class RawFace:
    """A face as the detector found it, in the coordinates of the array that was passed in."""

    x: int
    y: int
    w: int
    h: int
    confidence: float | None
    crop: np.ndarray = field(repr=False)  # aligned face, BGR float in [0, 1] (DeepFace's own crop)

    @property
    def area(self) -> int:
        return self.w * self.h


def deepface(settings: EngineSettings) -> ModuleType:
    """Import ``deepface.DeepFace`` (once per process) with DEEPFACE_HOME pointing at ``settings.home``."""
    if package_dir("deepface") is None:
        raise ModelUnavailable(
            "deepface is not installed", fix="pip install --no-deps deepface==0.0.103 (see scripts/setup.sh)"
        )
    with _LOCK:
        # DeepFace reads DEEPFACE_HOME (deepface/commons/folder_utils.py) each time it looks for a
        # weight file and has no other way to be told where weights live. This is facegate's one
        # sanctioned environment write; it is set again before each model-building call so that the
        # settings passed in win.
        os.environ["DEEPFACE_HOME"] = str(settings.home)
        try:
            from deepface import DeepFace
        except Exception as exc:  # a broken install: missing werkzeug, gdown, ...
            raise ModelUnavailable(f"deepface does not import: {exc}", fix="reinstall with scripts/setup.sh") from exc
        module: ModuleType = DeepFace  # deepface ships no type information
        return module


def recognition_ready(settings: EngineSettings, detector: str) -> ModuleType:
    backend = deepface_backend()
    ensure_weights(settings, model_requirement(settings.model, backend), detector_requirement(detector))
    return deepface(settings)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn DeepFace's exceptions into facegate's."""
    try:
        yield
    except FacegateError:
        raise
    except ImportError as exc:
        raise ModelUnavailable(f"{what}: a backend library is missing: {exc}") from exc
    except ValueError as exc:
        message = str(exc)
        if _is_no_face(exc):
            raise FaceNotFound("no face was found in the image") from exc
        if "download" in message.lower():
            raise ModelUnavailable(f"{what}: weights are missing and could not be downloaded: {message}") from exc
        raise EngineError(f"{what} failed: {message}") from exc
    except Exception as exc:
        raise EngineError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def _is_no_face(exc: BaseException) -> bool:
    from deepface.modules.exceptions import FaceNotDetected

    return isinstance(exc, FaceNotDetected) or "Face could not be detected" in str(exc)


def extract_faces(
    settings: EngineSettings, bgr: np.ndarray, *, detector: str, align: bool, expand_percentage: int = 0
) -> list[RawFace]:
    """All faces DeepFace's detector finds in ``bgr`` (empty list: none)."""
    df = recognition_ready(settings, detector)
    with _LOCK, translated(f"face detection ({detector})"):
        os.environ["DEEPFACE_HOME"] = str(settings.home)
        try:
            found = df.extract_faces(
                img_path=bgr,
                detector_backend=detector,
                enforce_detection=True,
                align=align,
                color_face="bgr",
                normalize_face=True,
                expand_percentage=expand_percentage,
            )
        except ValueError as exc:
            if _is_no_face(exc):
                return []
            raise
    faces = []
    for item in found:
        area = item["facial_area"]
        confidence = item.get("confidence")
        faces.append(
            RawFace(
                x=int(area["x"]),
                y=int(area["y"]),
                w=int(area["w"]),
                h=int(area["h"]),
                confidence=None if detector == "skip" or confidence is None else float(confidence),
                crop=np.asarray(item["face"]),
            )
        )
    return faces


def represent_crop(settings: EngineSettings, crop: np.ndarray) -> list[float]:
    """Embedding of an already detected and aligned face crop (BGR, [0, 1]): no second detection."""
    return represent_crops(settings, [crop])[0]


def represent_crops(settings: EngineSettings, crops: Sequence[np.ndarray]) -> list[list[float]]:
    """Embeddings of aligned face crops, in one DeepFace call (a batch for models that take one)."""
    df = recognition_ready(settings, "skip")
    with _LOCK, translated(f"embedding ({settings.model})"):
        os.environ["DEEPFACE_HOME"] = str(settings.home)
        out: Any = df.represent(
            img_path=list(crops) if len(crops) > 1 else crops[0],
            model_name=settings.model,
            detector_backend="skip",
            enforce_detection=False,
            align=False,
        )
    # one image: a list of faces; several: a list (per image) of lists of faces
    per_image = [out] if len(crops) == 1 else out
    return [[float(v) for v in faces[0]["embedding"]] for faces in per_image]


def distance(a: Sequence[float], b: Sequence[float], metric: str) -> float:
    from deepface.modules import verification

    with translated("distance"):
        return float(verification.find_distance(np.asarray(a, float), np.asarray(b, float), metric))


def default_threshold(settings: EngineSettings) -> float:
    deepface(settings)  # DEEPFACE_HOME must be set before the first deepface.modules import
    from deepface.modules import verification

    with translated("threshold lookup"):
        return float(verification.find_threshold(settings.model, settings.metric))


def analyze_emotion(
    settings: EngineSettings, bgr: np.ndarray, *, detector: str, align: bool
) -> list[tuple[RawFace, dict[str, float]]]:
    """DeepFace's own emotion model (only when its weights are present or downloads are on)."""
    backend = deepface_backend()
    if not settings.allow_downloads and not deepface_emotion_available(settings, backend):
        name = emotion_weights_name(backend) or "facial_expression_model_weights"
        raise ModelUnavailable(
            f"DeepFace's emotion model ({name}) is not in {settings.weights_dir} and downloads are off",
            fix="set FACEGATE_EXPRESSION_BACKEND=fer (works offline) " + DOWNLOAD_HINT,
        )
    ensure_weights(settings, detector_requirement(detector))
    df = deepface(settings)
    with _LOCK, translated("expression analysis (deepface)"):
        os.environ["DEEPFACE_HOME"] = str(settings.home)
        results: Any = df.analyze(
            img_path=bgr,
            actions=["emotion"],
            detector_backend=detector,
            align=align,
            enforce_detection=detector != "skip",
            silent=True,
        )
    out = []
    for item in results:
        area = item["region"]
        confidence = item.get("face_confidence")
        face = RawFace(
            x=int(area["x"]),
            y=int(area["y"]),
            w=int(area["w"]),
            h=int(area["h"]),
            confidence=None if detector == "skip" or confidence is None else float(confidence),
            crop=np.zeros((0, 0, 3)),
        )
        out.append((face, {k: float(v) for k, v in item["emotion"].items()}))
    return out
