"""``facegate eval provenance``: the time the C2PA provenance check adds per image.

The package photos are signed with a throwaway test chain (:mod:`tools.provenance.testchain`) whose root becomes
the trust anchor, then every image of each kind is checked ``repeats`` times by one warm checker: unsigned (as
the packages ship them), signed captures, signed captures with a liveness assertion, and tampered ones (one
flipped bit). Reported per kind: median, p95, mean and minimum milliseconds per check, and the states seen (so a
timing of the wrong thing shows). The import of the bindings and the first check of a new checker (reader
settings and trust anchors built) are timed apart.
"""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from tools.provenance import ProvenanceChecker
from tools.provenance.testchain import flip_byte, make_test_chain, sign_variant
from tools.sample_photos import ensure_sample_photos
from tools.settings import EngineSettings

KINDS = ("unsigned", "signed", "signed_liveness", "tampered")


class KindTiming(BaseModel):
    kind: str
    images: int
    checks: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    mean_kib: float
    states: dict[str, int]


class ProvenanceBench(BaseModel):
    c2pa_version: str
    photos_sha256: str  # of the unsigned photos' bytes, in name order
    repeats: int
    import_ms: float  # `import c2pa` in a fresh interpreter
    first_check_ms: float  # a new checker's first check: reader settings and trust anchors built
    kinds: list[KindTiming]


def run_provenance_bench(settings: EngineSettings, *, photos: Path, out: Path, repeats: int = 20) -> ProvenanceBench:
    """Sign the package photos, time the check on each kind, write provenance.json and provenance.md in ``out``."""
    import c2pa

    out.mkdir(parents=True, exist_ok=True)
    ensure_sample_photos(photos)
    originals = [p.read_bytes() for p in sorted(photos.iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    digest = hashlib.sha256()
    for data in originals:
        digest.update(hashlib.sha256(data).digest())
    chain = make_test_chain(common_name="bench capture", organization="facegate bench")
    anchored = settings.model_copy(update={"trust_anchors": chain.write_anchors(out / "anchors.pem")})
    signed = [sign_variant(data, chain, "created") for data in originals]
    images = {
        "unsigned": originals,
        "signed": signed,
        "signed_liveness": [
            sign_variant(d, chain, "live", nonce=f"bench-nonce-{i:020d}") for i, d in enumerate(originals)
        ],
        "tampered": [flip_byte(data) for data in signed],
    }
    started = time.perf_counter()
    checker = ProvenanceChecker(anchored)
    checker.check(signed[0])
    first_check_ms = (time.perf_counter() - started) * 1000
    kinds = [_time_kind(checker, kind, images[kind], repeats) for kind in KINDS]
    report = ProvenanceBench(
        c2pa_version=c2pa.__version__,
        photos_sha256=digest.hexdigest(),
        repeats=repeats,
        import_ms=round(_import_ms(), 1),
        first_check_ms=round(first_check_ms, 2),
        kinds=kinds,
    )
    (out / "provenance.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    (out / "provenance.md").write_text(_markdown(report), encoding="utf-8")
    return report


def _time_kind(checker: ProvenanceChecker, kind: str, images: list[bytes], repeats: int) -> KindTiming:
    times: list[float] = []
    states: Counter[str] = Counter()
    for _ in range(repeats):
        for data in images:
            started = time.perf_counter()
            report = checker.check(data)
            times.append((time.perf_counter() - started) * 1000)
            states[report.state] += 1
    ordered = sorted(times)
    return KindTiming(
        kind=kind,
        images=len(images),
        checks=len(times),
        median_ms=round(statistics.median(ordered), 3),
        p95_ms=round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        mean_ms=round(statistics.fmean(ordered), 3),
        min_ms=round(ordered[0], 3),
        mean_kib=round(statistics.fmean(len(d) for d in images) / 1024, 1),
        states=dict(states),
    )


def _import_ms() -> float:
    code = "import time; t = time.perf_counter(); import c2pa; print((time.perf_counter() - t) * 1000)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def _markdown(report: ProvenanceBench) -> str:
    lines = [
        f"# Provenance check, time per image (c2pa-python {report.c2pa_version}, {report.repeats} repeats)",
        "",
        f"`import c2pa`: {report.import_ms} ms; a new checker's first check: {report.first_check_ms} ms.",
        "",
        "| kind | images | checks | median ms | p95 ms | mean ms | min ms | mean KiB | states |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in report.kinds:
        states = ", ".join(f"{s} {n}" for s, n in sorted(k.states.items()))
        lines.append(
            f"| {k.kind} | {k.images} | {k.checks} | {k.median_ms} | {k.p95_ms} | {k.mean_ms} | {k.min_ms} "
            f"| {k.mean_kib} | {states} |"
        )
    return "\n".join(lines) + "\n"
