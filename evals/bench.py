"""``facegate eval bench``: plain ``DeepFace.verify`` pair by pair against facegate's verification run, on
the same pairs, each in its own subprocess (so their peak memory figures do not mix); plus the agent's
per-turn overhead and the CLI's cold start. Writes bench.json and bench.md.

Why facegate should be faster: it embeds each distinct image once instead of twice per pair, spreads the work
over all cores, keeps the models loaded in each worker, and detects on a copy downscaled to at most
``detect_max_side`` pixels.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.datasets import Pair, dataset_sha256, read_pairs, resolve
from evals.errors import EvalError

if TYPE_CHECKING:
    from agent.settings import Settings

SEED = 7
TARGET_RATIO = 10.0
GOAL_RATIO = 25.0


def shipped_set(settings: Settings) -> tuple[Path, Path]:
    """The shipped verification set under ``<home>/evals/shipped``, prepared on first use."""
    root = settings.home / "evals" / "shipped"
    pairs = root / "pairs.csv"
    if not pairs.is_file():
        from evals.prepare import prepare

        prepare(root, photos=settings.home / "sample-photos", settings=settings, size="full")
    return pairs, root


def _image_pixels(path: Path) -> int:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.width * im.height)
    except Exception:  # unreadable images simply do not count as the largest
        return 0


def sample_pairs(pairs_file: Path, root: Path, max_pairs: int) -> tuple[list[dict[str, str]], str]:
    """A fixed sample of at most ``max_pairs`` rows, stratified by the ``kind`` column (or by ``same``),
    always including up to two pairs that touch the largest image (the memory case).

    Returns the rows and a description of the sample.
    """
    read_pairs(pairs_file, root)  # one-line errors for a malformed list or a path leading out of root
    with pairs_file.open(newline="", encoding="utf-8-sig") as fh:
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in csv.DictReader(fh)]
    if max_pairs <= 0 or len(rows) <= max_pairs:
        return rows, f"all {len(rows)} pairs"
    images = {r["img1"] for r in rows} | {r["img2"] for r in rows}
    largest = max(sorted(images), key=lambda rel: _image_pixels(resolve(root, rel)))
    chosen: set[int] = {i for i, r in enumerate(rows) if largest in (r["img1"], r["img2"])}
    chosen = set(sorted(chosen)[:2])
    strata: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        strata.setdefault(r.get("kind") or r["same"], []).append(i)
    rng = random.Random(SEED)
    budget = max_pairs - len(chosen)
    for key in sorted(strata):
        members = [i for i in strata[key] if i not in chosen]
        share = round(budget * len(strata[key]) / len(rows))
        chosen.update(rng.sample(members, min(share, len(members))))
    picked = [rows[i] for i in sorted(chosen)][:max_pairs]
    return (
        picked,
        f"{len(picked)} of {len(rows)} pairs (fixed stratified sample, seed {SEED}; incl. {largest})",
    )


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    fields = list(rows[0].keys())
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a side of the bench; its progress lines (``facegate: ...``) go on to stderr as they come, the rest
    of its stderr is kept for the error message."""
    import tempfile

    start = time.perf_counter()
    kept: list[str] = []
    # stdout to a file, stderr read line by line: a pipe for both could fill one while we wait on the other
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        with subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env) as child:
            assert child.stderr is not None
            for line in child.stderr:
                if line.startswith("facegate: ") and "error" not in line.split(":", 2)[1]:
                    print(line, end="", file=sys.stderr, flush=True)
                else:
                    kept.append(line)
            code = child.wait()
        out.seek(0)
        stdout = out.read()
    return time.perf_counter() - start, subprocess.CompletedProcess(cmd, code, stdout, "".join(kept))


def _facegate_cmd() -> list[str]:
    script = Path(sys.executable).parent / "facegate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]


def cli_cold_start(runs: int = 5) -> dict[str, Any]:
    """Wall time of ``facegate --help`` in fresh processes: median of ``runs``."""
    times = []
    for _ in range(runs):
        elapsed, proc = _run([*_facegate_cmd(), "--help"])
        if proc.returncode != 0:
            return {"error": proc.stderr.strip()[-500:]}
        times.append(elapsed)
    return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}


def agent_overhead(settings: Settings) -> dict[str, Any]:
    """The agent's own cost per turn (graph, policy, audit, checkpoints; no face model): :mod:`evals.overhead`."""
    from evals.overhead import measure_overhead

    try:
        return measure_overhead(settings=settings).model_dump(mode="json")
    except Exception as exc:  # a bench row, not a crash: the pair figures above are still worth keeping
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_bench(
    settings: Settings,
    *,
    out: Path,
    pairs_file: Path | None = None,
    root: Path | None = None,
    max_pairs: int = 0,
    workers: int | None = None,
    audit: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; write bench.json and bench.md into ``out``; return what bench.json holds."""
    from tools.weights import install_weights

    install_weights(settings)  # DeepFace (plain run) and facegate both read the linked package weights
    if pairs_file is None or root is None:
        pairs_file, root = shipped_set(settings)
    root = root.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows, sample_note = sample_pairs(pairs_file, root, max_pairs)
    if not rows:
        raise EvalError(f"{pairs_file.name}: no pairs")
    timed = out / "bench_pairs.csv"
    _write_rows(timed, rows)
    pairs: list[Pair] = read_pairs(timed, root)
    digest = dataset_sha256(timed, root, [p.img1 for p in pairs] + [p.img2 for p in pairs])

    print(f"bench: plain DeepFace.verify on {len(pairs)} pairs ...", file=sys.stderr)
    env = {**os.environ, "DEEPFACE_HOME": str(settings.home)}
    plain_json = out / "plain_deepface.json"
    wall, proc = _run(
        [sys.executable, "-m", "evals.plain_deepface", "--pairs", str(timed), "--root", str(root),
         "--out", str(plain_json), "--model", settings.model],
        env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        raise EvalError(f"the plain DeepFace run failed: {proc.stderr.strip()[-800:]}")
    plain = json.loads(plain_json.read_text(encoding="utf-8"))
    plain["process_wall_s"] = round(wall, 3)

    print(f"bench: facegate eval verification on the same {len(pairs)} pairs ...", file=sys.stderr)
    fg_out = out / "facegate"
    cmd = [
        *_facegate_cmd(), "--home", str(settings.home), "eval", "verification", "--pairs", str(timed),
        "--root", str(root), "--out", str(fg_out), "--model", settings.model, "--detector", settings.detector,
        "--json",
    ]  # fmt: skip
    if settings.threshold is not None:
        cmd += ["--threshold", str(settings.threshold)]
    if workers:
        cmd += ["--workers", str(workers)]
    wall, proc = _run(cmd)
    if proc.returncode != 0:
        raise EvalError(f"the facegate run failed: {proc.stderr.strip()[-800:]}")
    fg = json.loads((fg_out / "report.json").read_text(encoding="utf-8"))
    facegate = {
        "n_pairs": fg["n_pairs"],
        "accuracy": fg["accuracy"],
        "accuracy_counting_failures": fg["accuracy_counting_failures"],
        "failed_images": fg["n_failed_images"],
        "failed_pairs": fg["n_failed_pairs"],
        "auc": fg["auc"],
        "elapsed_s": fg["elapsed_s"],
        "pairs_per_s": fg["pairs_per_s"],
        "embed_ms_per_image": fg["embed_ms_per_image"],
        "n_images": fg["n_images"],
        "peak_rss_mb": fg["peak_rss_mb"],
        "settings": fg["settings"],
        "process_wall_s": round(wall, 3),
    }
    ratio = facegate["pairs_per_s"] / plain["pairs_per_s"] if plain.get("pairs_per_s") else None
    # plain DeepFace computes two embeddings per pair; facegate one per distinct image. Splitting the speed-up
    # into image reuse and raw embedding speed tells a reader what to expect on sets with less reuse (LFW:
    # about 1.3 pairs per image).
    plain_images_per_s = 2 * plain["pairs_per_s"] if plain.get("pairs_per_s") else None
    facegate["images_per_s"] = fg["n_images"] / fg["elapsed_s"] if fg["elapsed_s"] else None
    reuse = (2 * len(pairs)) / fg["n_images"] if fg["n_images"] else None
    delta = facegate["accuracy_counting_failures"] - plain["accuracy_counting_failures"]

    print("bench: agent overhead and CLI cold start ...", file=sys.stderr)
    result: dict[str, Any] = {
        "n_pairs": len(pairs),
        "sample": sample_note,
        "pairs_file": str(pairs_file),
        "root": str(root),
        "dataset_sha256": digest,
        "plain_deepface": plain,
        "facegate": facegate,
        "speedup_pairs_per_s": ratio,
        "accuracy_delta": delta,
        "pairs_per_image": len(pairs) / fg["n_images"] if fg["n_images"] else None,
        "image_reuse_factor": reuse,
        "speedup_per_embedding": (
            facegate["images_per_s"] / plain_images_per_s if plain_images_per_s and facegate["images_per_s"] else None
        ),
        "target": {
            "ratio_min": TARGET_RATIO,
            "ratio_goal": GOAL_RATIO,
            "met": bool(ratio is not None and ratio >= TARGET_RATIO and delta >= 0),
        },
        "agent_overhead_per_turn": agent_overhead(settings),
        "cli_cold_start": cli_cold_start(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "notes": [
            "Both accuracies count pairs that could not be scored (no face found) as wrong.",
            "Each side runs in its own subprocess; pairs/s include model loading and, for facegate, starting "
            "its worker processes.",
        ],
    }
    manifest = root / "manifest.json"
    if manifest.is_file():
        from evals.scoring import shipped_set_notes

        result["notes"] += shipped_set_notes(root)
    if audit:
        from evals.audit import record_eval_run

        result["audit"] = record_eval_run(
            settings,
            eval_kind="bench",
            dataset_sha256=digest,
            summary={
                "n_pairs": len(pairs),
                "speedup_pairs_per_s": ratio,
                "accuracy_plain": plain["accuracy_counting_failures"],
                "accuracy_facegate": facegate["accuracy_counting_failures"],
                "settings": facegate["settings"],
            },
        )
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(render_markdown(result), encoding="utf-8")
    return result


def _x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_markdown(r: dict[str, Any]) -> str:
    p, f = r["plain_deepface"], r["facegate"]
    ratio = r["speedup_pairs_per_s"]
    cold = r["cli_cold_start"]
    overhead = r["agent_overhead_per_turn"]
    lines = [
        "# facegate bench: plain DeepFace.verify vs facegate",
        "",
        f"Pairs: {r['sample']} from `{r['pairs_file']}`; dataset sha256 `{r['dataset_sha256'][:16]}…`; "
        f"{r['machine']['cpus']} CPUs, Python {r['machine']['python']}.",
        "",
        "| | plain DeepFace.verify | facegate |",
        "| --- | --- | --- |",
        f"| settings | {p['settings']['model']} + {p['settings']['detector']}, pair by pair, "
        f"full-size images | {f['settings']['model']} + {f['settings']['detector']} "
        f"(detect at <= {f['settings']['detect_max_side']} px), "
        f"{f['settings']['workers']} workers, each image once |",
        f"| pairs per second | {p['pairs_per_s']:.2f} | {f['pairs_per_s']:.2f} |",
        f"| wall time | {p['elapsed_s']:.1f} s | {f['elapsed_s']:.1f} s |",
        f"| accuracy (failed pairs count as wrong) | {_pct(p['accuracy_counting_failures'])} | "
        f"{_pct(f['accuracy_counting_failures'])} |",
        f"| pairs that failed (no face) | {p['failed_pairs']} | {f['failed_pairs']} |",
        f"| peak RSS | {p['peak_rss_mb']} MiB (one process) | largest process "
        f"{f['peak_rss_mb']['max_process']} MiB; all processes at once: RSS "
        f"{f['peak_rss_mb']['concurrent_total']} MiB, PSS {f['peak_rss_mb']['concurrent_total_pss']} MiB "
        f"(parent {f['peak_rss_mb']['parent']}, "
        f"workers {f['peak_rss_mb']['workers']}) |",
        "",
        f"**Speed-up: {'n/a' if ratio is None else f'{ratio:.1f}x'} pairs per second** "
        f"(target >= {TARGET_RATIO:.0f}x at equal or better accuracy, goal {GOAL_RATIO:.0f}x): "
        f"{'met' if r['target']['met'] else 'NOT met'}.",
        "",
        f"Where it comes from: {r['n_pairs']} pairs over {f['n_images']} distinct images, so plain DeepFace "
        f"computes {_x(r['image_reuse_factor'])} as many embeddings as facegate; per embedding facegate is "
        f"{_x(r['speedup_per_embedding'])} faster (both cores, models kept loaded, detection on a downscaled "
        "copy). On a set where images recur less (LFW: about 1.3 pairs per image) expect less.",
        "",
        f"- Agent overhead per turn: {json.dumps(overhead, default=str)}",
        f"- CLI cold start (`facegate --help`, median of 5): "
        f"{cold.get('median_s', 'n/a')} s {cold.get('runs_s', cold.get('error', ''))}",
        "",
        "## Notes",
        "",
        *[f"- {n}" for n in r["notes"]],
        "",
    ]
    return "\n".join(lines)
