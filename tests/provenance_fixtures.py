"""C2PA fixtures made at test time, never committed: a throwaway CA chain (one per test session) and
package-shipped photos signed with c2pa-python.

Use the session fixture ``provenance_kit`` (tests/conftest.py), or :func:`make_kit` outside pytest. Every image
is signed by the real library and read back by the real reader; nothing here fakes a report.

| fixture | what it is |
| --- | --- |
| ``kit.signed("created")`` | a capture (``digitalCapture``) by the trusted chain |
| ``kit.signed("edited")`` | a capture, then ``c2pa.edited`` |
| ``kit.signed("generated")`` | ``trainedAlgorithmicMedia`` |
| ``kit.signed("composited")`` | a capture, then an edit with ``compositeWithTrainedAlgorithmicMedia`` |
| ``kit.live(nonce)`` | a capture with facegate's liveness assertion carrying ``nonce`` |
| ``kit.untrusted()`` | a capture signed by a chain that is not in the trust anchors |
| ``kit.tampered()`` | a trusted capture with one flipped bit in the image data |
| ``kit.stripped()`` | a trusted capture with its manifest removed (pixels unchanged) |
| ``kit.unsigned()`` | the photo as its package ships it |
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from tools.provenance import ProvenanceChecker
from tools.provenance.testchain import TestChain, Variant, flip_byte, make_test_chain, sign_variant, strip_manifest
from tools.settings import EngineSettings

DEFAULT_PHOTO = "obama.jpg"
CAPTURE_SIGNER = ("Door camera 7", "Acme Capture")
FOREIGN_SIGNER = ("Rogue camera", "Not Acme")


@functools.cache
def session_chains() -> tuple[TestChain, TestChain]:
    """(trusted, foreign): made once per process; key generation is the slow part of signing."""
    trusted = make_test_chain(common_name=CAPTURE_SIGNER[0], organization=CAPTURE_SIGNER[1], root_name="Acme root")
    foreign = make_test_chain(common_name=FOREIGN_SIGNER[0], organization=FOREIGN_SIGNER[1], root_name="Rogue root")
    return trusted, foreign


@dataclass
class ProvenanceKit:
    """Signed variants of package-shipped photos, and settings whose trust anchors hold the trusted root."""

    chain: TestChain
    foreign: TestChain
    anchors: Path
    photos: Path
    _cache: dict[tuple[str, str, str | None], bytes] = field(default_factory=dict, repr=False)

    def settings(self, home: Path, *, anchors: bool = True, **overrides: object) -> EngineSettings:
        """Explicit values: a FACEGATE_* variable in the developer's shell must not change what is tested."""
        values: dict[str, object] = {
            "home": home,
            "trust_anchors": self.anchors if anchors else None,
            "provenance_remote_manifests": False,
            "provenance_ocsp": False,
            "allowed_image_dirs": None,
        }
        return EngineSettings(**(values | overrides))  # type: ignore[arg-type]

    def checker(self, home: Path, *, anchors: bool = True) -> ProvenanceChecker:
        return ProvenanceChecker(self.settings(home, anchors=anchors))

    def unsigned(self, photo: str = DEFAULT_PHOTO) -> bytes:
        return (self.photos / photo).read_bytes()

    def signed(self, variant: Variant = "created", photo: str = DEFAULT_PHOTO) -> bytes:
        return self._sign(self.chain, variant, photo, None)

    def live(self, nonce: str, photo: str = DEFAULT_PHOTO) -> bytes:
        return self._sign(self.chain, "live", photo, nonce)

    def untrusted(self, variant: Variant = "created", photo: str = DEFAULT_PHOTO, nonce: str | None = None) -> bytes:
        return self._sign(self.foreign, variant, photo, nonce)

    def tampered(self, photo: str = DEFAULT_PHOTO) -> bytes:
        return flip_byte(self.signed("created", photo))

    def stripped(self, photo: str = DEFAULT_PHOTO) -> bytes:
        return strip_manifest(self.signed("created", photo))

    def _sign(self, chain: TestChain, variant: Variant, photo: str, nonce: str | None) -> bytes:
        key = (chain.common_name, f"{variant}:{photo}", nonce)
        if key not in self._cache:
            self._cache[key] = sign_variant(self.unsigned(photo), chain, variant, nonce=nonce)
        return self._cache[key]


def make_kit(folder: Path, photos: Path) -> ProvenanceKit:
    """A kit whose trust-anchor file is written into ``folder``; ``photos`` is the package-photo cache."""
    trusted, foreign = session_chains()
    return ProvenanceKit(trusted, foreign, trusted.write_anchors(folder / "anchors.pem"), photos)
