"""``facegate eval mcp`` runs end to end: a real server per protocol era, the real engine, paired timings (what
it measures is not asserted, only that it timed the calls it names, with the outcomes they must have)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_mcp_bench_times_each_call_over_mcp_and_in_process(
    tmp_path: Path, face_home: Path, sample_photos_dir: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    pytest.importorskip("mcp", reason="needs the optional extra: pip install 'facegate[mcp]'")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".deepface").symlink_to(face_home / ".deepface", target_is_directory=True)
    out = tmp_path / "bench"
    argv = ["--home", str(home), "eval", "mcp", "--repeats", "1", "--photos", str(sample_photos_dir),
            "--transport", transport]  # fmt: skip
    assert main([*argv, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [e["mode"] for e in report["eras"]] == ["legacy", "auto"]
    for era in report["eras"]:
        calls = {c["call"].split(" ")[0]: c for c in era["calls"]}
        assert calls["consent_status"]["statuses"] == {"ok": 4}  # 2 rounds (warm-up + 1), in process and over MCP
        assert calls["refused"]["statuses"] == {"denied": 4}
        assert calls["verify_identity"]["statuses"] == {"ok": 4}
        assert calls["verify_identity"]["direct_gate_ms"] > 0 and era["server_start_ms"] > 0
    assert report["eras"][0]["protocol_version"] != report["eras"][1]["protocol_version"]
    assert (out / "mcp.md").read_text().startswith(f"MCP over {transport}") and report["transport"] == transport
    from agent.store import Store

    with Store.open(home / "facegate.db", create=False) as store:
        (row,) = store.audit.query(kind="eval_run")
    assert row.summary["eval"] == "mcp" and row.input_hashes == [report["photos_sha256"]]
    assert row.summary["transport"] == transport
