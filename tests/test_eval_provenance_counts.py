"""``facegate eval verification`` reports the provenance (C2PA state) of every image it scored: signed fixtures
made at test time with the real library, checked in the evaluation workers on the bytes they embed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import Settings
from evals.summary import verification as verification_summary
from evals.verification import run_verification
from tests.provenance_fixtures import ProvenanceKit
from tools.weights import install_weights

pytestmark = pytest.mark.slow


def test_verification_counts_the_images_by_provenance(provenance_kit: ProvenanceKit, tmp_path: Path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    (root / "a.jpg").write_bytes(provenance_kit.signed("created", "obama.jpg"))
    (root / "b.jpg").write_bytes(provenance_kit.signed("created", "obama2.jpg"))
    (root / "c.jpg").write_bytes(provenance_kit.untrusted("created", "obama3.jpg"))
    (root / "d.jpg").write_bytes(provenance_kit.unsigned("biden.jpg"))
    (root / "e.jpg").write_bytes(provenance_kit.tampered("obama3.jpg"))
    pairs = root / "pairs.csv"
    pairs.write_text("img1,img2,same\na.jpg,b.jpg,1\na.jpg,c.jpg,1\nb.jpg,d.jpg,0\nd.jpg,e.jpg,0\n")
    home = tmp_path / "home"
    assert install_weights(Settings(home=home)).ok
    settings = Settings(home=home, allow_downloads=False, trust_anchors=provenance_kit.anchors)
    report = run_verification(settings, pairs, root, tmp_path / "out", workers=1, audit=False)
    assert report.provenance == {"trusted": 2, "untrusted": 1, "absent": 1, "invalid": 1}
    assert report.n_failed_images == 0  # provenance is reported, not a reason to drop an image from an eval
    text = verification_summary(report, "files")
    assert "provenance (C2PA) of the images: trusted 2, untrusted 1, invalid 1, absent 1" in text
    assert (
        "| provenance of the images (C2PA) | trusted 2, untrusted 1, invalid 1, absent 1 |"
        in (tmp_path / "out" / "report.md").read_text()
    )
