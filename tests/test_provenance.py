"""The provenance check: the real C2PA reader on package photos signed at test time with a throwaway CA."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.provenance_fixtures import CAPTURE_SIGNER, FOREIGN_SIGNER, ProvenanceKit
from tools.errors import ConfigError, EmptyImage, ImageTooLarge, ProvenanceUnavailable
from tools.provenance import LIVENESS_LABEL, ProvenanceChecker
from tools.provenance.testchain import liveness_data, sign_image, variant_actions
from tools.settings import EngineSettings


@pytest.fixture
def checker(provenance_kit: ProvenanceKit, tmp_path: Path) -> ProvenanceChecker:
    return provenance_kit.checker(tmp_path)


def test_a_trusted_capture(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    data = provenance_kit.signed("created")
    report = checker.check(data)
    assert report.state == "trusted" and report.trusted and not report.tampered
    assert report.format == "image/jpeg"
    assert report.digital_source_type == "digitalCapture" and report.source_types == ("digitalCapture",)
    assert report.actions == ("c2pa.created",)
    assert not report.generated and not report.composited
    assert report.signer is not None
    assert (report.signer.common_name, report.signer.organization) == CAPTURE_SIGNER
    assert report.signer.algorithm == "ES256"
    assert report.validation_codes == ()
    assert report.liveness is None and report.liveness_problem is None
    assert report.manifest_label and report.manifest_label.startswith("urn:c2pa:")
    assert report.claim_generator == "facegate-testchain 1"
    assert report.trust_anchors_configured and report.elapsed_ms > 0
    import hashlib

    assert report.image_sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("variant", "generated", "composited", "actions", "source_types"),
    [
        ("edited", False, False, ("c2pa.created", "c2pa.edited"), ("digitalCapture",)),
        ("generated", True, False, ("c2pa.created",), ("trainedAlgorithmicMedia",)),
        (
            "composited",
            False,
            True,
            ("c2pa.created", "c2pa.edited"),
            ("digitalCapture", "compositeWithTrainedAlgorithmicMedia"),
        ),
    ],
)
def test_what_the_manifest_declares(
    checker: ProvenanceChecker,
    provenance_kit: ProvenanceKit,
    variant: str,
    generated: bool,
    composited: bool,
    actions: tuple[str, ...],
    source_types: tuple[str, ...],
) -> None:
    report = checker.check(provenance_kit.signed(variant))  # type: ignore[arg-type]
    assert report.state == "trusted"
    assert (report.generated, report.composited) == (generated, composited)
    assert report.actions == actions and report.source_types == source_types


def test_png_is_read_too(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    assert checker.check(provenance_kit.signed("created", "astronaut.png")).state == "trusted"
    stripped = checker.check(provenance_kit.stripped("astronaut.png"))
    assert stripped.state == "absent" and stripped.format == "image/png"


def test_a_signer_outside_the_anchors_is_untrusted(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    report = checker.check(provenance_kit.untrusted())
    assert report.state == "untrusted" and not report.trusted
    assert report.signer is not None and (report.signer.common_name, report.signer.organization) == FOREIGN_SIGNER
    assert "signingCredential.untrusted" in report.validation_codes


def test_without_anchors_nobody_is_trusted(provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    report = provenance_kit.checker(tmp_path, anchors=False).check(provenance_kit.signed("created"))
    assert report.state == "untrusted" and not report.trust_anchors_configured
    assert report.signer is not None and report.signer.common_name == CAPTURE_SIGNER[0]


def test_one_flipped_bit_is_tampering(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    report = checker.check(provenance_kit.tampered())
    assert report.state == "invalid" and report.tampered
    assert "assertion.dataHash.mismatch" in report.validation_codes


def test_a_damaged_manifest_is_invalid_not_absent(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    signed = provenance_kit.signed("created")
    start = signed.find(b"c2pa.actions")
    assert start > 0
    for offset in (start + 40, start + 600, start + 1600):
        damaged = bytearray(signed)
        damaged[offset] ^= 0x01
        report = checker.check(bytes(damaged))
        assert report.state == "invalid", (offset, report)
        assert report.validation_codes


def test_stripped_and_unsigned_are_absent(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    for data in (provenance_kit.stripped(), provenance_kit.unsigned()):
        report = checker.check(data)
        assert report.state == "absent" and report.signer is None and report.source_types == ()


def test_a_format_that_cannot_carry_a_manifest_is_absent(
    checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(provenance_kit.unsigned())).save(out, format="BMP")
    report = checker.check(out.getvalue())
    assert report.state == "absent" and report.validation_codes == ("facegate.format_unsupported",)


def test_liveness_assertion_is_read_from_the_signed_manifest(
    checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    nonce = "A" * 32
    report = checker.check(provenance_kit.live(nonce))
    assert report.state == "trusted" and report.liveness is not None
    assert report.liveness.nonce == nonce and report.liveness.result == "pass"
    assert report.liveness.method == "facegate-test-liveness 1" and report.liveness.checked_at is not None


@pytest.mark.parametrize(
    ("assertions", "problem"),
    [
        ({LIVENESS_LABEL: {"version": 2, "nonce": "A" * 32, "result": "pass", "method": "m"}}, "version"),
        ({LIVENESS_LABEL: {"version": 1, "nonce": "short", "result": "pass", "method": "m"}}, "nonce"),
        ({LIVENESS_LABEL: {"version": 1, "nonce": "A" * 32, "result": "maybe", "method": "m"}}, "result"),
        ({LIVENESS_LABEL: {"version": 1, "nonce": "A" * 32, "result": "pass", "method": "  "}}, "method"),
        ({LIVENESS_LABEL: "live!"}, "data"),
    ],
)
def test_a_malformed_liveness_assertion_is_no_liveness(
    checker: ProvenanceChecker, provenance_kit: ProvenanceKit, assertions: dict[str, object], problem: str
) -> None:
    data = sign_image(provenance_kit.unsigned(), provenance_kit.chain, assertions=assertions)
    report = checker.check(data)
    assert report.state == "trusted" and report.liveness is None
    assert report.liveness_problem is not None and problem in report.liveness_problem


OPENED = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}


def test_liveness_in_an_ingredient_does_not_count(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    """Only the active manifest binds these bytes: an attestation of an earlier image does not carry over."""
    live = provenance_kit.live("B" * 32)
    report = checker.check(sign_image(live, provenance_kit.chain, actions=[OPENED], parent=live))
    assert report.state == "trusted" and report.ingredients == 1
    assert report.liveness is None
    assert report.digital_source_type == "digitalCapture"  # followed back to the parent's c2pa.created


def test_an_edit_on_a_generated_parent_is_still_generated(
    checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    generated = provenance_kit.signed("generated")
    edit = [OPENED, {"action": "c2pa.edited"}]
    report = checker.check(sign_image(generated, provenance_kit.chain, actions=edit, parent=generated))
    assert report.actions == ("c2pa.opened", "c2pa.edited")
    assert report.generated and report.digital_source_type == "trainedAlgorithmicMedia"


def test_remote_manifests_are_not_fetched(provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    """A manifest the image points to on the network is not fetched: no connection is even attempted."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/manifest.c2pa"
        data = sign_image(provenance_kit.unsigned(), provenance_kit.chain, remote_url=url)
        report = provenance_kit.checker(tmp_path).check(data)
        with pytest.raises(TimeoutError):
            server.accept()
    assert report.state == "absent" and report.validation_codes == ("facegate.remote_manifest_not_fetched",)


def test_the_report_holds_no_pixels(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    data = sign_image(
        provenance_kit.unsigned(),
        provenance_kit.chain,
        actions=variant_actions("created"),
        assertions={LIVENESS_LABEL: liveness_data("C" * 32)},
    )
    dumped = checker.check(data).model_dump_json()
    assert len(dumped) < 2048 and "base64" not in dumped and "thumbnail" not in dumped
    assert all(len(word) < 100 for word in dumped.split('"'))


def test_bad_bytes_get_typed_errors(checker: ProvenanceChecker, provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    with pytest.raises(EmptyImage):
        checker.check(b"")
    small = provenance_kit.settings(tmp_path, max_image_bytes=1000)
    with pytest.raises(ImageTooLarge):
        ProvenanceChecker(small).check(provenance_kit.signed("created"))


def test_trust_anchor_files_are_checked(provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    missing = provenance_kit.settings(tmp_path, trust_anchors=tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="cannot read trust anchors"):
        ProvenanceChecker(missing).check(provenance_kit.signed("created"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="hold no PEM certificate"):
        ProvenanceChecker(provenance_kit.settings(tmp_path, trust_anchors=junk)).check(provenance_kit.unsigned())


def test_trust_anchors_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEGATE_TRUST_ANCHORS", "anchors.pem")
    monkeypatch.chdir(tmp_path)
    settings = EngineSettings(home=tmp_path)
    assert settings.trust_anchors == tmp_path / "anchors.pem"
    assert not settings.provenance_remote_manifests and not settings.provenance_ocsp


def test_without_the_extra(monkeypatch: pytest.MonkeyPatch, provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    """No c2pa-python: "not checked" when nothing depends on it, a typed error with the install hint when it does."""
    monkeypatch.setitem(sys.modules, "c2pa", None)  # what an environment without the extra looks like to import
    checker = provenance_kit.checker(tmp_path)
    report = checker.check(provenance_kit.signed("created"))
    assert report.state == "not_checked" and "facegate[provenance]" in (report.detail or "")
    with pytest.raises(ProvenanceUnavailable, match=r"pip install 'facegate\[provenance\]'") as info:
        checker.check(provenance_kit.signed("created"), required=True)
    assert info.value.exit_code == 12


def test_importing_facegate_loads_no_c2pa() -> None:
    code = (
        "import sys, agent, tools, tools.provenance, agent.capture, agent.policy, agent.store; "
        "bad = [m for m in ('c2pa', 'cryptography') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checker_survives_a_fork(provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    """Worker pools fork: the child builds its own reader context instead of using the parent's handle."""
    import os

    checker = provenance_kit.checker(tmp_path)
    data = provenance_kit.signed("created")
    assert checker.check(data).state == "trusted"  # the parent's context exists now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            state = checker.check(data).state
        except BaseException as exc:
            state = type(exc).__name__
        os.write(write_end, state.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 100) == b"trusted"
    os.close(read_end)


def test_a_report_survives_json_for_agent_state(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    """Graph state and checkpoints hold JSON: a report dumped and read back decides the same."""
    import json

    from tools.provenance import ProvenanceReport

    report = checker.check(provenance_kit.live("R" * 32))
    again = ProvenanceReport.model_validate(json.loads(json.dumps(report.model_dump(mode="json"))))
    assert again == report and hash(again) == hash(report)
