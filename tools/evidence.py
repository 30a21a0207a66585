"""Is there a face at all? For images no detector would otherwise look at.

A small crop (<= 96 px) is classified whole by the expression path, and detector ``skip`` embeds the whole image:
neither asks whether the pixels hold a face, so random noise would be "a face". Here the image is padded by
:data:`PAD` of its side on every edge (detectors miss a face that touches the border), enlarged to :data:`SIDE`
px and searched by a real detector; the face found must span at least :data:`MIN_SHARE` of the image's side.
Measured on the shipped 48/64 px face crops (all found, the face ~1.0 of the side) and on random noise, blurred
noise and a coffee cup at 32-96 px (none found).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tools import deepface_adapter as adapter

if TYPE_CHECKING:
    from tools.settings import EngineSettings

PAD = 0.25
SIDE = 200
MIN_SHARE = 0.4


def has_face(settings: EngineSettings, array: np.ndarray) -> bool:
    """Whether the expression detector or the main one (never ``skip``; ``opencv``, which ships with OpenCV,
    when both are ``skip``) finds a face filling most of ``array`` (BGR)."""
    import cv2

    h, w = array.shape[:2]
    pad = max(1, round(max(h, w) * PAD))
    padded = cv2.copyMakeBorder(array, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    scale = SIDE / max(padded.shape[:2])
    size = (max(1, round(padded.shape[1] * scale)), max(1, round(padded.shape[0] * scale)))
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    enlarged = cv2.resize(padded, size, interpolation=interpolation)
    min_side = MIN_SHARE * max(h, w) * scale
    detectors = [d for d in dict.fromkeys((settings.expression_detector, settings.detector)) if d != "skip"]
    for detector in detectors or ["opencv"]:
        found = adapter.extract_faces(settings, enlarged, detector=detector, align=False)
        if any(max(f.w, f.h) >= min_side for f in found):
            return True
    return False
