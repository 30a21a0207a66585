"""Real face photos that public packages ship, fetched once and cached (never committed).

The fetch logic lives in :mod:`tools.sample_photos` (shipped: the demo and ``facegate eval prepare`` use it
too); this module only picks the test cache folder: ``$FACEGATE_TEST_PHOTOS`` or
``~/.cache/facegate/test-photos``.
Photos: obama.jpg, obama2.jpg, obama3.jpg, obama_partial_face.jpg, obama_partial_face2.jpg, 32bit.png (Obama),
biden.jpg, astronaut.png (smiling), coffee.png (no face), grace_hopper.jpg (neutral), t1.jpg (six faces).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.sample_photos import GRACE, ensure_sample_photos, grace_hint, sample_photo


def cache_dir() -> Path:
    return Path(os.environ.get("FACEGATE_TEST_PHOTOS", Path.home() / ".cache" / "facegate" / "test-photos"))


def ensure_photos() -> Path:
    """Fetch whatever is missing; return the cache folder."""
    return ensure_sample_photos(cache_dir())


def photo(name: str) -> Path:
    """Path of one cached photo, fetching the set on first use.

    grace_hopper.jpg is optional (it comes from a Debian package via apt-get): a test that needs it is
    skipped, with the fix, where it cannot be fetched.
    """
    if name == GRACE and not (ensure_photos() / GRACE).exists():
        pytest.skip(grace_hint(cache_dir()))
    return sample_photo(name, cache_dir())
