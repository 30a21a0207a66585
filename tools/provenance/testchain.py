"""A throwaway certificate chain and C2PA signing of images, for tests, evaluations and demos.

Never for production: the keys live in memory and the root is trusted by nobody but the test that writes it to
a trust-anchor file. What a real capture app does (sign what its camera captured, add facegate's liveness
assertion) is what :func:`sign_image` does here, so the real reader and the real policy run on the results.

Needs the optional extra ``facegate[provenance]`` (c2pa-python and cryptography); imported lazily.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from tools.provenance.checker import sniff_mime
from tools.provenance.models import IPTC_SOURCE_TYPE_PREFIX, LIVENESS_LABEL

Variant = Literal["created", "edited", "generated", "composited", "live"]
"""- ``created``: a digital capture, one ``c2pa.created`` action (``digitalCapture``).
- ``edited``: a capture, then ``c2pa.edited`` (say, a crop): edits are reported, not refused.
- ``generated``: ``c2pa.created`` with ``trainedAlgorithmicMedia`` (an AI-generated picture).
- ``composited``: a capture, then ``c2pa.edited`` with ``compositeWithTrainedAlgorithmicMedia`` (generative fill).
- ``live``: a capture carrying facegate's liveness assertion (needs a nonce).
"""


@dataclass(frozen=True)
class TestChain:
    """Root -> intermediate -> leaf (ES256). The leaf signs; the root is the trust anchor."""

    __test__ = False  # not a pytest test class, whatever its name

    root_pem: str
    intermediate_pem: str
    leaf_pem: str
    leaf_key_pem: str
    common_name: str
    organization: str

    @property
    def chain_pem(self) -> str:
        """What the signer embeds: the leaf then the intermediate (not the root)."""
        return self.leaf_pem + self.intermediate_pem

    def write_anchors(self, path: Path) -> Path:
        """Write the root as a PEM trust-anchor file (``FACEGATE_TRUST_ANCHORS``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.root_pem, encoding="ascii")
        return path


def make_test_chain(
    *,
    common_name: str = "facegate test capture",
    organization: str = "facegate tests",
    root_name: str = "facegate test root",
    now: datetime | None = None,
    valid_days: int = 30,
) -> TestChain:
    """A fresh chain whose leaf is fit for C2PA signing (CA:FALSE, digitalSignature, emailProtection EKU)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
        )

    def usage(*, sign_certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign_certs,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign_certs,
            crl_sign=sign_certs,
            encipher_only=False,
            decipher_only=False,
        )

    def issue(
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        issuer_key: ec.EllipticCurvePrivateKey,
        *,
        path_length: int | None,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(usage(sign_certs=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = issue(name(root_name), root_key, name(root_name), root_key, path_length=1, ca=True)
    inter = issue(name(f"{root_name} intermediate"), inter_key, root.subject, root_key, path_length=0, ca=True)
    leaf = issue(name(common_name), leaf_key, inter.subject, inter_key, path_length=None, ca=False)

    def pem(cert: x509.Certificate) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return TestChain(pem(root), pem(inter), pem(leaf), key_pem, common_name, organization)


def liveness_data(nonce: str, *, result: str = "pass", method: str = "facegate-test-liveness 1") -> dict[str, Any]:
    """The data of a liveness assertion as a capture app would write it (see ``LivenessAssertion``)."""
    return {"version": 1, "nonce": nonce, "result": result, "method": method, "checked_at": _now_iso()}


def variant_actions(variant: Variant) -> list[dict[str, Any]]:
    """The ``c2pa.actions.v2`` actions of each fixture variant."""
    capture = {"action": "c2pa.created", "digitalSourceType": IPTC_SOURCE_TYPE_PREFIX + "digitalCapture"}
    if variant in ("created", "live"):
        return [capture]
    if variant == "edited":
        return [capture, {"action": "c2pa.edited", "description": "cropped"}]
    if variant == "generated":
        return [{"action": "c2pa.created", "digitalSourceType": IPTC_SOURCE_TYPE_PREFIX + "trainedAlgorithmicMedia"}]
    if variant == "composited":
        fill = IPTC_SOURCE_TYPE_PREFIX + "compositeWithTrainedAlgorithmicMedia"
        return [capture, {"action": "c2pa.edited", "digitalSourceType": fill, "description": "generative fill"}]
    raise ValueError(f"unknown variant {variant!r}")


def sign_variant(data: bytes, chain: TestChain, variant: Variant, *, nonce: str | None = None) -> bytes:
    """Sign ``data`` as one of the named variants; ``live`` needs the nonce its liveness assertion carries."""
    if variant == "live":
        if nonce is None:
            raise ValueError("a live capture needs a nonce (facegate capture nonce)")
        live = {LIVENESS_LABEL: liveness_data(nonce)}
        return sign_image(data, chain, actions=variant_actions("created"), assertions=live)
    return sign_image(data, chain, actions=variant_actions(variant))


def sign_image(
    data: bytes,
    chain: TestChain,
    *,
    actions: Sequence[Mapping[str, Any]] | None = None,
    assertions: Mapping[str, Any] | None = None,
    title: str = "capture",
    generator: str = "facegate-testchain",
    remote_url: str | None = None,
    parent: bytes | None = None,
) -> bytes:
    """Embed a C2PA manifest signed by ``chain``'s leaf in ``data`` (JPEG, PNG, WebP, ...) and return the bytes.

    ``assertions`` maps extra assertion labels to their data (e.g. ``{LIVENESS_LABEL: liveness_data(n)}``).
    ``remote_url``: do not embed the manifest; point to it at that URL instead (the manifest is not served).
    ``parent``: the signed image this one was made from, added as a ``parentOf`` ingredient with the instance id
    ``"parent"`` (refer to it from a ``c2pa.opened`` action: ``{"parameters": {"ingredientIds": ["parent"]}}``).
    No time-stamp authority (offline), no thumbnail (fixtures stay small).
    """
    import c2pa

    mime = sniff_mime(data)
    if mime is None:
        raise ValueError("cannot tell the image format from its bytes")
    steps = [dict(a) for a in (actions or variant_actions("created"))]
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1"}],
        "title": title,
        "format": mime,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": steps}},
            *({"label": label, "data": body} for label, body in (assertions or {}).items()),
        ],
    }
    context = c2pa.Context.from_dict(
        {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}, "builder": {"thumbnail": {"enabled": False}}}
    )
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(b"es256", chain.chain_pem.encode("ascii"), chain.leaf_key_pem.encode("ascii"), None)
    )
    out = io.BytesIO()
    with c2pa.Builder(manifest, context=context) as builder:
        if parent is not None:
            ingredient = {"title": "parent", "relationship": "parentOf", "instance_id": "parent"}
            builder.add_ingredient(ingredient, sniff_mime(parent) or mime, io.BytesIO(parent))
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def flip_byte(data: bytes, *, from_end: int = 100) -> bytes:
    """One bit changed in the image data (not in the manifest, which sits near the start): a tampered image."""
    changed = bytearray(data)
    changed[len(data) - from_end] ^= 0x01
    return bytes(changed)


def strip_manifest(data: bytes) -> bytes:
    """The same image with its embedded C2PA manifest removed (JPEG APP11 segments, PNG ``caBX`` chunks), pixels
    untouched: what a messaging app or a careful attacker does."""
    if data[:2] == b"\xff\xd8":
        return _strip_jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _strip_png(data)
    raise ValueError("strip_manifest handles JPEG and PNG")


def _strip_jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker != 0xEB:  # APP11 holds the JUMBF boxes of the manifest
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out + data[pos:])


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if data[pos + 4 : pos + 8] != b"caBX":
            out += data[pos:end]
        pos = end
    return bytes(out)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
