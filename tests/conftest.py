"""Shared fixtures, and the suite-wide guard: no test reaches a real model endpoint.

Guard (autouse, every test): the Gemini keys of the developer's shell are removed (so no test picks the real
reasoner by accident, in this process or in a CLI it starts), a Gemini reasoner whose base URL is not loopback
cannot be built, and a TCP connection to anything but a loopback address is refused. Tests talk to
``tests/fake_gemini.py`` on 127.0.0.1. Like pydantic-ai's ``ALLOW_MODEL_REQUESTS = False``, but enforced at the
socket too.

Face engine (owner: Engineer A): ``face_settings`` is an :class:`EngineSettings` whose home is a
session-scoped temporary folder with the package-shipped weights installed by
:func:`tools.weights.install_weights`; ``engine`` is one session-scoped :class:`FaceEngine` over it
(DeepFace keeps its models process-wide anyway). Build your own ``Settings(home=face_settings.home, ...)``
when you need the agent's settings object.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tools.engine import FaceEngine
from tools.settings import EngineSettings
from tools.weights import install_weights

if TYPE_CHECKING:
    from tests.provenance_fixtures import ProvenanceKit


class RealModelRequestBlocked(RuntimeError):
    """A test tried to reach something other than this machine's loopback (a real model endpoint, say)."""


_GEMINI_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "FACEGATE_GEMINI_API_KEY", "FACEGATE_REASONER")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(sock: socket.socket, address: Any) -> None:
    # Only TCP to an IP host matters: UNIX sockets and UDP "connects" (which send nothing) pass.
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        host = address[0] if isinstance(address, tuple) else None
        if not is_loopback(host):
            raise RealModelRequestBlocked(f"tests may only connect to loopback addresses, not {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_real_model_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test: no Gemini key from the environment, no Gemini client off loopback, no non-loopback TCP."""
    for name in _GEMINI_KEYS:
        monkeypatch.delenv(name, raising=False)
    # nor the developer's database: a test that wants PostgreSQL names its own throwaway one (tests/db_fixtures.py)
    monkeypatch.delenv("FACEGATE_DATABASE_URL", raising=False)
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)

    from agent.reasoners.gemini import GeminiReasoner

    real_from_settings = GeminiReasoner.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls: type[GeminiReasoner], settings: Any, **overrides: Any) -> GeminiReasoner:
        host = urlsplit(settings.gemini_base_url or "https://generativelanguage.googleapis.com").hostname
        if not is_loopback(host):
            raise RealModelRequestBlocked(f"a test built a Gemini reasoner for {host}; use tests/fake_gemini.py")
        return real_from_settings(cls, settings, **overrides)  # type: ignore[no-any-return]

    monkeypatch.setattr(GeminiReasoner, "from_settings", classmethod(from_settings))
    yield


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


# --- databases: the store's tests run on SQLite and on PostgreSQL (tests/db_fixtures.py) -----------------------

from tests.db_fixtures import backend, db_settings, open_store, postgres, store, target  # noqa: E402, F401
