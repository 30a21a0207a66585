"""Reading and validating an image's C2PA manifest with the official bindings (``c2pa-python``).

The C2PA library is imported on first use, never at import time, and only here: its errors and its JSON are
translated into a :class:`ProvenanceReport` once, at this boundary. Network use is off unless the operator
turns it on: no remote manifest fetch, no OCSP. Trust anchors come from one PEM file (``settings.trust_anchors``);
they *replace* the library's built-in list, so "trusted" always means "chains to a root this operator chose".
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tools.errors import ConfigError, EmptyImage, ImageTooLarge, ProvenanceUnavailable
from tools.provenance.models import (
    COMPOSITE_SOURCE_TYPES,
    COMPOSITING_ACTIONS,
    LIVENESS_LABEL,
    SYNTHETIC_SOURCE_TYPES,
    LivenessAssertion,
    ProvenanceReport,
    ProvenanceState,
    SignerInfo,
    short_source_type,
)

if TYPE_CHECKING:
    from tools.images import ImageSource
    from tools.settings import EngineSettings

INSTALL_HINT = "pip install 'facegate[provenance]'"
NO_ORIGINAL_BYTES = "no original bytes to check (the image was given as decoded pixels)"

# facegate's own validation codes (the reader's codes are C2PA's: assertion.dataHash.mismatch, ...).
CODE_UNREADABLE = "facegate.manifest_unreadable"
CODE_FORMAT_UNSUPPORTED = "facegate.format_unsupported"
CODE_REMOTE_NOT_FETCHED = "facegate.remote_manifest_not_fetched"
CODE_NO_ANCHORS = "facegate.no_trust_anchors_configured"
CODE_UNKNOWN_STATE = "facegate.unknown_validation_state"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF8", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"WEBP", 8, "image/webp"),
)
_FTYP = {b"avif": "image/avif", b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif"}


def sniff_mime(data: bytes) -> str | None:
    """The MIME type from the first bytes, for the formats a camera or phone writes; None when unknown."""
    for magic, offset, mime in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[4:8] == b"ftyp":
        return _FTYP.get(data[8:12])
    return None


def c2pa_installed() -> bool:
    """Whether the optional extra can be imported (it is then imported: the check is about to use it)."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


class ProvenanceChecker:
    """Checks images' C2PA provenance. Cheap to build; the C2PA library and trust anchors load on first use.

    One checker per process is enough (the reader settings are built once and shared by every check); it is
    safe to use from several threads, and rebuilds its native context after a fork.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._context: Any = None
        self._context_pid: int | None = None

    @property
    def settings(self) -> EngineSettings:
        """The settings it checks with (trust anchors, network use, and the byte limit of an image)."""
        return self._settings

    @property
    def anchors_configured(self) -> bool:
        return self._settings.trust_anchors is not None

    def check(self, data: bytes, *, required: bool = False) -> ProvenanceReport:
        """The provenance report of one image's raw bytes.

        Args:
            data: the image file's bytes, exactly as received (before any decoding or re-encoding).
            required: a purpose depends on the answer. Without the optional extra this raises instead of
                reporting ``not_checked``.

        Raises:
            ProvenanceUnavailable: ``required`` and ``c2pa-python`` is not installed.
            ConfigError: the trust-anchor file cannot be read or holds no certificate.
            EmptyImage, ImageTooLarge: the bytes themselves are unusable.
        """
        started = time.perf_counter()
        data = bytes(data)
        if not data:
            raise EmptyImage("image bytes are empty")
        if len(data) > self._settings.max_image_bytes:
            raise ImageTooLarge(
                f"image is {len(data)} bytes, more than the limit of {self._settings.max_image_bytes}",
                size=len(data),
                limit=self._settings.max_image_bytes,
            )
        base: dict[str, Any] = {
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "format": sniff_mime(data),
            "trust_anchors_configured": self.anchors_configured,
        }
        if not c2pa_installed():
            if required:
                raise ProvenanceUnavailable(
                    f"this purpose needs the image's provenance checked, and the C2PA reader is not installed: "
                    f"{INSTALL_HINT}",
                    hint=INSTALL_HINT,
                )
            return ProvenanceReport(
                state="not_checked", detail=f"the C2PA reader is not installed ({INSTALL_HINT})", **base
            )
        report = self._read(data, base)
        return report.model_copy(update={"elapsed_ms": round((time.perf_counter() - started) * 1000, 3)})

    def check_source(
        self, source: ImageSource, *, required: bool = False
    ) -> tuple[ImageSource, ProvenanceReport | None]:
        """Read an image's original bytes once and check them: (what to decode, the report).

        The bytes to decode are the very bytes checked (a file is never read twice). Decoded pixels and arrays
        have no original bytes: the report is None, and :meth:`not_checked` with :data:`NO_ORIGINAL_BYTES` is what
        to record once the image's sha256 is known. Raises what :meth:`check` and reading the file raise.
        """
        from tools.images import read_original

        original = read_original(source, self._settings)
        if original is None:
            return source, None
        return original, self.check(original.data, required=required)

    def not_checked(self, sha256: str, why: str) -> ProvenanceReport:
        """The report for an image whose original bytes are gone (an array input): nothing can be checked."""
        return ProvenanceReport(
            state="not_checked", image_sha256=sha256, detail=why, trust_anchors_configured=self.anchors_configured
        )

    # --- the C2PA boundary ------------------------------------------------------------------------------

    def _read(self, data: bytes, base: dict[str, Any]) -> ProvenanceReport:
        import c2pa

        context = self._reader_context()
        try:
            reader = c2pa.Reader.try_create(base["format"], io.BytesIO(data), None, context)
        except c2pa.C2paError.NotSupported:
            return ProvenanceReport(
                state="absent",
                validation_codes=(CODE_FORMAT_UNSUPPORTED,),
                detail="the image format cannot carry an embedded C2PA manifest that this reader supports",
                **base,
            )
        except c2pa.C2paError as exc:
            if isinstance(exc, c2pa.C2paError.RemoteManifest) or str(exc).startswith("Remote"):
                # c2pa-python 0.38 raises the base class for c2pa-rs's "Remote: ..." errors
                fetched = "could not be fetched" if self._settings.provenance_remote_manifests else "is not fetched"
                return ProvenanceReport(
                    state="absent",
                    validation_codes=(CODE_REMOTE_NOT_FETCHED,),
                    detail=f"the image points to a manifest on the network, which {fetched}",
                    **base,
                )
            # A manifest is there but cannot even be parsed: damaged or tampered with, not absent.
            return ProvenanceReport(
                state="invalid",
                validation_codes=(CODE_UNREADABLE,),
                detail=f"the C2PA manifest cannot be read ({type(exc).__name__.lstrip('_').removeprefix('C2pa')})",
                **base,
            )
        if reader is None:
            return ProvenanceReport(state="absent", detail="no C2PA manifest in the image", **base)
        with reader:
            store = json.loads(reader.json())
        return _report_from_store(store, base, anchors_configured=self.anchors_configured)

    def _reader_context(self) -> Any:
        import c2pa

        with self._lock:
            if self._context is None or self._context_pid != os.getpid():
                config: dict[str, Any] = {
                    "verify": {
                        "verify_after_reading": True,
                        "verify_trust": True,
                        "remote_manifest_fetch": self._settings.provenance_remote_manifests,
                        "ocsp_fetch": self._settings.provenance_ocsp,
                    }
                }
                if self._settings.trust_anchors is not None:
                    config["trust"] = {"trust_anchors": read_trust_anchors(self._settings)}
                try:
                    self._context = c2pa.Context.from_dict(config)
                except c2pa.C2paError as exc:
                    raise ConfigError(
                        f"the C2PA reader refused the trust anchors in {self._settings.trust_anchors}: {exc}",
                        path=str(self._settings.trust_anchors),
                    ) from exc
                self._context_pid = os.getpid()
            return self._context


def read_trust_anchors(settings: EngineSettings) -> str:
    """The PEM text of the configured trust anchors; ConfigError naming the problem when unusable."""
    path = settings.trust_anchors
    if path is None:
        raise ConfigError("no trust anchors are configured (FACEGATE_TRUST_ANCHORS)")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
        raise ConfigError(f"cannot read trust anchors {path}: {reason}", path=str(path)) from exc
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"trust anchors {path} hold no PEM certificate", path=str(path))
    return text


def _report_from_store(store: dict[str, Any], base: dict[str, Any], *, anchors_configured: bool) -> ProvenanceReport:
    """c2pa's manifest-store JSON -> our report. Reads named fields only (never thumbnails or other resources)."""
    manifests: dict[str, Any] = store.get("manifests") or {}
    label = store.get("active_manifest")
    active: dict[str, Any] = (manifests.get(label) or {}) if isinstance(label, str) else {}
    codes = [s.get("code", "") for s in store.get("validation_status") or [] if isinstance(s, dict)]
    codes += _ingredient_failures(store)
    state: ProvenanceState
    validation_state = store.get("validation_state")
    detail = None
    if validation_state == "Invalid" or not active:
        state, detail = "invalid", "the manifest does not validate: the image or its manifest changed after signing"
    elif validation_state == "Trusted":
        if anchors_configured:
            state = "trusted"
        else:  # the library's own built-in list, which this operator did not choose
            state, detail = "untrusted", "no trust anchors are configured"
            codes.append(CODE_NO_ANCHORS)
    elif validation_state == "Valid":
        state, detail = "untrusted", "the signer does not chain to a configured trust anchor"
    else:
        state, detail = "invalid", f"unknown validation state {validation_state!r}"
        codes.append(CODE_UNKNOWN_STATE)

    source_types: list[str] = []
    all_actions: list[str] = []
    for manifest in manifests.values():
        for action in _actions(manifest):
            all_actions.append(str(action.get("action", "")))
            dst = action.get("digitalSourceType")
            if isinstance(dst, str) and short_source_type(dst) not in source_types:
                source_types.append(short_source_type(dst))
    liveness, liveness_problem = _liveness(active)
    return ProvenanceReport(
        state=state,
        manifest_label=label if isinstance(label, str) else None,
        claim_generator=_claim_generator(active),
        digital_source_type=_origin_source_type(manifests, label),
        source_types=tuple(source_types),
        actions=tuple(str(a.get("action", "")) for a in _actions(active)),
        generated=any(t in SYNTHETIC_SOURCE_TYPES for t in source_types),
        composited=any(t in COMPOSITE_SOURCE_TYPES for t in source_types)
        or any(a in COMPOSITING_ACTIONS for a in all_actions),
        signer=_signer(active.get("signature_info")),
        validation_codes=tuple(dict.fromkeys(c for c in codes if c)),
        liveness=liveness,
        liveness_problem=liveness_problem,
        ingredients=len(active.get("ingredients") or []),
        detail=detail,
        **base,
    )


def _actions(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label == "c2pa.actions" or label.startswith("c2pa.actions."):
            for action in (assertion.get("data") or {}).get("actions") or []:
                if isinstance(action, dict):
                    yield action


def _origin_source_type(manifests: dict[str, Any], label: Any) -> str | None:
    """The source type of the capture: the ``c2pa.created`` action's, following ``parentOf`` ingredients back."""
    seen: set[str] = set()
    while isinstance(label, str) and label in manifests and label not in seen:
        seen.add(label)
        manifest = manifests[label]
        for action in _actions(manifest):
            if action.get("action") == "c2pa.created" and isinstance(action.get("digitalSourceType"), str):
                return short_source_type(action["digitalSourceType"])
        parents = [i for i in manifest.get("ingredients") or [] if i.get("relationship") == "parentOf"]
        label = parents[0].get("active_manifest") if parents else None
    return None


def _ingredient_failures(store: dict[str, Any]) -> list[str]:
    results = store.get("validation_results") or {}
    codes = []
    for delta in results.get("ingredientDeltas") or []:
        for status in ((delta or {}).get("validationDeltas") or {}).get("failure") or []:
            codes.append(str(status.get("code", "")))
    return codes


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    if infos and isinstance(infos[0], dict) and infos[0].get("name"):
        version = infos[0].get("version")
        return f"{infos[0]['name']} {version}" if version else str(infos[0]["name"])
    generator = manifest.get("claim_generator")
    return str(generator) if generator else None


def _signer(info: Any) -> SignerInfo | None:
    if not isinstance(info, dict):
        return None
    signed_at = None
    if isinstance(info.get("time"), str):
        try:
            signed_at = datetime.fromisoformat(info["time"].replace("Z", "+00:00"))
        except ValueError:
            signed_at = None
    # c2pa-rs calls the subject's organisation "issuer" (signature_info.issuer is the O= of the signing
    # certificate's subject, not of its issuer).
    return SignerInfo(
        common_name=info.get("common_name") or None,
        organization=info.get("issuer") or None,
        algorithm=str(info["alg"]).upper() if info.get("alg") else None,
        signed_at=signed_at,
    )


def _liveness(manifest: dict[str, Any]) -> tuple[LivenessAssertion | None, str | None]:
    found = [a for a in manifest.get("assertions") or [] if a.get("label") == LIVENESS_LABEL]
    if not found:
        return None, None
    if len(found) > 1:
        return None, f"{len(found)} {LIVENESS_LABEL} assertions in one manifest; exactly one is allowed"
    try:
        return LivenessAssertion.model_validate(found[0].get("data")), None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        return None, f"{LIVENESS_LABEL} is malformed at {where}: {first['msg']}"
