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
    # same size, different content (a flipped byte): the copy is verified by hash, not size
    damaged = settings.weights_dir / "shape_predictor_5_face_landmarks.dat"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    third = {f.name: f.action for f in install_weights(settings).files}
    assert third["shape_predictor_5_face_landmarks.dat"] == "replaced"
    models_dir = package_dir("face_recognition_models")
    assert models_dir is not None
    assert damaged.read_bytes() == (models_dir / "models" / damaged.name).read_bytes()
    assert not [p for p in settings.weights_dir.iterdir() if p.name.endswith(".part")]  # no temporary file left


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


def test_doctor_on_a_fresh_home_says_the_weights_come_on_first_use(tmp_path: Path) -> None:
    """Issue 11: a fresh home can run (the engine provisions it), so the doctor says ok and how, not FAIL."""
    settings = EngineSettings(home=tmp_path / "empty", allow_downloads=False)
    statuses = {s.name: s for s in doctor(settings)}
    model, detector = statuses["Dlib"], statuses["dlib"]
    assert model.ok and "not in" in model.detail and "on first use" in model.detail
    assert f"`facegate --home {settings.home} models install`" in model.detail  # the command for this home
    assert detector.ok and "face-recognition-models" in detector.detail
    assert statuses["opencv (expression)"].ok  # the Haar cascades come with opencv's wheel
    assert not settings.home.exists()  # the doctor only looks


def test_doctor_unknown_offline_model(tmp_path: Path) -> None:
    settings = EngineSettings(home=tmp_path, model="ArcFace", detector="retinaface")
    statuses = {s.name: s for s in doctor(settings)}
    assert not statuses["ArcFace"].ok and "arcface_weights" in statuses["ArcFace"].detail
    assert not statuses["retinaface"].ok and statuses["retinaface"].fix


def test_cli_install_and_doctor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "cli-home"
    assert main(["--home", str(home), "models", "doctor", "--json"]) == 0  # a fresh home is provisioned on use
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert any("on first use" in c["detail"] for c in report["components"])

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
        "agent.cli.main.build_cli();"
        "heavy = ('deepface', 'tensorflow', 'fer', 'ai_edge_litert', 'dlib');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- a fresh home provisions itself (issue 11, item 2) ----------------------------------------------------


def test_ensure_weights_provisions_a_fresh_home_from_the_packages(tmp_path: Path) -> None:
    from tools.weights import detector_requirement, ensure_weights, model_requirement

    settings = EngineSettings(home=tmp_path / "fresh" / "home", allow_downloads=False)
    ensure_weights(settings, model_requirement("Dlib", None), detector_requirement("dlib"))
    assert sorted(p.name for p in settings.weights_dir.iterdir()) == sorted(DLIB_FILES)
    assert (settings.home.stat().st_mode & 0o777) == 0o700  # it will hold templates and conversations too
    models_dir = package_dir("face_recognition_models")
    assert models_dir is not None
    for name in DLIB_FILES:
        assert (settings.weights_dir / name).read_bytes() == (models_dir / "models" / name).read_bytes()


def test_ensure_ready_refuses_what_no_package_ships_and_copies_nothing(tmp_path: Path) -> None:
    from tools.errors import ModelUnavailable
    from tools.weights import ensure_ready

    settings = EngineSettings(home=tmp_path / "h", model="ArcFace", detector="opencv", allow_downloads=False)
    with pytest.raises(ModelUnavailable) as info:
        ensure_ready(settings)
    assert "ArcFace" in info.value.message and "downloads are off" in info.value.message
    assert not settings.weights_dir.exists() or not any(settings.weights_dir.iterdir())


def test_install_command_names_the_home_quoted(tmp_path: Path) -> None:
    from tools.weights import install_command

    home = tmp_path / "my home"
    assert install_command(EngineSettings(home=home)) == f"facegate --home '{home}' models install"


SHADOW = """
import sys
from pathlib import Path
from tools.errors import ModelUnavailable
from tools.settings import EngineSettings
from tools.weights import detector_requirement, doctor, ensure_weights, model_requirement
settings = EngineSettings(home=Path(sys.argv[1]), allow_downloads=False)
model = next(s for s in doctor(settings) if s.name == "Dlib")
print(model.ok, model.fix)
try:
    ensure_weights(settings, model_requirement("Dlib", None), detector_requirement("dlib"))
except ModelUnavailable as exc:
    print(exc.message)
"""


def test_a_missing_package_is_named_with_the_command_for_this_home(tmp_path: Path) -> None:
    """face-recognition-models installed without its model files (a broken or stripped install): nothing to copy,
    so the error says what to install and the exact command for this home. Shadowed in a child process."""
    shadow = tmp_path / "shadow" / "face_recognition_models"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    home = tmp_path / "home"
    env = {"PYTHONPATH": f"{shadow.parent}:{REPO}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", SHADOW, str(home)], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    fix = f"pip install face-recognition-models, then run `facegate --home {home} models install`"
    doctor_line, message = out.stdout.strip().splitlines()
    assert doctor_line == f"False {fix}", out.stderr  # the doctor says FAIL, and what to do
    assert "needs dlib_face_recognition_resnet_model_v1.dat" in message and message.endswith(fix)
