"""``facegate eval provenance`` runs end to end on the package photos (what it measures is not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main


def test_provenance_bench_times_each_kind(
    tmp_path: Path, sample_photos_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("c2pa", reason="needs the optional extra: pip install 'facegate[provenance]'")
    out = tmp_path / "bench"
    argv = ["--home", str(tmp_path), "eval", "provenance", "--out", str(out), "--repeats", "1"]
    assert main([*argv, "--photos", str(sample_photos_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {k["kind"]: k for k in report["kinds"]}
    n = kinds["signed"]["images"]
    assert n >= 9 and all(k["checks"] == n and k["median_ms"] > 0 for k in kinds.values())
    # the timings are of the right thing: every image of a kind got the state that kind must get
    assert kinds["unsigned"]["states"] == {"absent": n}
    assert kinds["signed"]["states"] == {"trusted": n} == kinds["signed_liveness"]["states"]
    assert kinds["tampered"]["states"] == {"invalid": n}
    assert (out / "provenance.md").read_text().startswith("# Provenance check")
    assert json.loads((out / "provenance.json").read_text())["repeats"] == 1
    from agent.store import Store

    with Store.open(tmp_path / "facegate.db", create=False) as store:
        (row,) = store.audit.query(kind="eval_run")
    assert row.summary["eval"] == "provenance" and row.input_hashes == [report["photos_sha256"]]
