"""The baseline for ``facegate eval bench``: plain ``DeepFace.verify``, pair by pair, as a user of DeepFace
would call it (image paths; model Dlib; DeepFace's defaults otherwise: detector opencv, cosine, full-size
images).

Run in its own process (``python -m evals.plain_deepface ...``) so its peak memory is its own. DeepFace finds
its weights under ``$DEEPFACE_HOME`` (the bench sets it to facegate's home, where ``install_weights`` linked
the package-shipped files); nothing is downloaded. A pair DeepFace raises on (no face found) counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def run(pairs_file: Path, root: Path, model: str = "Dlib") -> dict[str, object]:
    from evals.datasets import read_pairs, resolve
    from evals.workers import peak_rss_mb

    pairs = read_pairs(pairs_file, root)
    t0 = time.perf_counter()
    from deepface import DeepFace  # the import is part of what a plain user pays

    correct = 0
    errors = 0
    error_kinds: dict[str, int] = {}
    shown = time.monotonic()
    for i, p in enumerate(pairs):
        if time.monotonic() - shown >= 10:  # this side takes minutes: say it is alive (the bench passes it on)
            print(f"facegate: plain DeepFace.verify: {i}/{len(pairs)} pairs", file=sys.stderr, flush=True)
            shown = time.monotonic()
        try:
            res = DeepFace.verify(
                img1_path=str(resolve(root, p.img1)), img2_path=str(resolve(root, p.img2)), model_name=model
            )
        except Exception as exc:  # DeepFace raises ValueError for "no face"; any failure is a wrong answer here
            errors += 1
            kind = type(exc).__name__
            error_kinds[kind] = error_kinds.get(kind, 0) + 1
            continue
        correct += int(bool(res["verified"]) == p.same)
    elapsed = time.perf_counter() - t0
    return {
        "n_pairs": len(pairs),
        "accuracy_counting_failures": correct / len(pairs),
        "accuracy": correct / (len(pairs) - errors) if len(pairs) > errors else None,
        "failed_pairs": errors,
        "error_kinds": error_kinds,
        "elapsed_s": elapsed,
        "pairs_per_s": len(pairs) / elapsed if elapsed > 0 else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "settings": {
            "model": model,
            "detector": "opencv (DeepFace default)",
            "metric": "cosine (DeepFace default)",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.plain_deepface")
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON result")
    parser.add_argument("--model", default="Dlib")
    args = parser.parse_args(argv)
    result = run(args.pairs, args.root, args.model)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
