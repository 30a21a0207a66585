"""``facegate eval``: verification and expression evaluations, the shipped sets, and the benchmark.

Plugged into the CLI through the ``facegate.commands`` entry point. Nothing heavy is imported at module level
(``facegate --help`` must stay fast): handlers import what they need.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=_positive_int, help="worker processes (default: the number of CPUs)")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="local process pool or a Ray cluster")
    p.add_argument("--ray-address", help="Ray cluster to join (default with --executor ray: start a local one, 2 CPUs)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="evaluate verification and expression accuracy and speed")
    evsub = ev.add_subparsers(dest="eval_command", metavar="EVAL")
    ev.set_defaults(handler=lambda args: _usage(ev))

    v = evsub.add_parser("verification", help="face verification over an LFW-style pair list")
    v.add_argument("--pairs", type=Path, required=True, help="CSV with columns img1,img2,same (1 or 0)")
    v.add_argument("--root", type=Path, required=True, help="folder the image paths are relative to")
    v.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md, roc.png")
    v.add_argument("--model", help="recognition model (default: the configured one)")
    v.add_argument("--detector", help="face detector (default: the configured one)")
    v.add_argument("--threshold", type=float, help="distance threshold (default: DeepFace's for model+metric)")
    _run_options(v)
    v.set_defaults(handler=_verification)

    e = evsub.add_parser("expression", help="expression recognition over a labelled list")
    e.add_argument("--labels", type=Path, required=True, help="CSV with columns file,label")
    e.add_argument("--root", type=Path, required=True, help="folder the image paths are relative to")
    e.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md, confusion.png")
    e.add_argument("--detector", help="face detector for expressions (default: the configured one)")
    _run_options(e)
    e.set_defaults(handler=_expression)

    c = evsub.add_parser("calibrate", help="the threshold that meets a target error rate on your labelled pairs")
    c.add_argument("--pairs", type=Path, required=True, help="CSV with columns img1,img2,same (1 or 0)")
    c.add_argument("--root", type=Path, required=True, help="folder the image paths are relative to")
    c.add_argument("--out", type=Path, required=True, help="folder for calibration.json, calibration.md")
    target = c.add_mutually_exclusive_group(required=True)
    target.add_argument("--far", type=float, help="target false-accept rate, e.g. 0.001")
    target.add_argument("--frr", type=float, help="target false-reject rate, e.g. 0.01")
    c.add_argument("--confidence", type=float, default=0.95, help="confidence of the intervals (default 0.95)")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap rounds for the threshold's interval")
    c.add_argument("--dry-run", action="store_true", help="report only; write no calibration file")
    c.add_argument("--model", help="recognition model (default: the configured one)")
    c.add_argument("--detector", help="face detector (default: the configured one)")
    _run_options(c)
    c.set_defaults(handler=_calibrate)

    pr = evsub.add_parser("prepare", help="build evaluation sets from photos that packages ship")
    pr.add_argument("--out", type=Path, required=True, help="folder to build the sets in")
    pr.add_argument("--size", choices=("full", "tiny"), default="full")
    pr.add_argument("--photos", type=Path, help="cache of the package photos (default: <home>/sample-photos)")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(handler=_prepare)

    b = evsub.add_parser("bench", help="plain DeepFace.verify against facegate, side by side")
    b.add_argument("--pairs", type=Path, help="pair list (default: the shipped set, prepared if missing)")
    b.add_argument("--root", type=Path, help="folder the pair list's paths are relative to")
    b.add_argument("--out", type=Path, default=Path("facegate-bench"), help="folder for bench.json, bench.md")
    b.add_argument(
        "--max-pairs",
        type=int,
        default=0,
        help="time only a fixed stratified sample of this many pairs (default 0: all pairs)",
    )
    b.add_argument("--workers", type=_positive_int, help="facegate's worker processes (default: CPUs)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(handler=_bench)

    so = evsub.add_parser("soak", help="resident memory of one engine over many verifications")
    so.add_argument("--pairs", type=Path, help="pair list whose images are cycled (default: the shipped set)")
    so.add_argument("--root", type=Path, help="folder the pair list's paths are relative to")
    so.add_argument("--calls", type=_positive_int, default=2000, help="verifications to run (default 2000)")
    so.add_argument("--out", type=Path, required=True, help="folder for soak.json, soak.md")
    so.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    so.set_defaults(handler=_soak)

    a = evsub.add_parser("agent", help="agent policy scenarios: violations, refusals, decisions, leaks, audit")
    a.add_argument("--suite", type=Path, help="scenario suite YAML (default: the shipped agent_default suite)")
    a.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md")
    a.add_argument("--reasoner", choices=("offline", "gemini"), default="offline")
    a.add_argument("--photos", type=Path, help="cache of the package photos (default: <home>/sample-photos)")
    a.add_argument("--only", action="append", metavar="ID", help="run only this scenario (repeatable)")
    a.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    a.set_defaults(handler=_agent)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _finish(args: argparse.Namespace, report: Any, summary: str, warning: str | None = None) -> int:
    """The report as JSON (``--json``) or a short summary on stdout; a warning, if any, on stderr."""
    import sys

    from agent.cli.common import print_json

    if warning:
        print(f"facegate: {warning}", file=sys.stderr)
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print(summary)
    return 0


def _progress() -> Any:
    from evals.progress import StderrProgress

    return StderrProgress()


def _files(out: Path, *names: str) -> str:
    present = [n for n in names if (out / n).exists()]
    return f"{', '.join(present)} in {out}"


def _check_root(root: Path) -> None:
    from tools.errors import EvalError

    if not root.is_dir():
        raise EvalError(f"no such folder: {root}", root=str(root))


def _verification(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals import summary
    from evals.verification import run_verification

    settings = load_settings(args, model=args.model, detector=args.detector, threshold=args.threshold)
    _check_root(args.root)
    report = run_verification(
        settings,
        args.pairs,
        args.root,
        args.out,
        workers=args.workers,
        executor=args.executor,
        ray_address=args.ray_address,
        progress=_progress(),
    )
    files = _files(args.out, "report.md", "report.json", "roc.png", "groups.png", "pair_scores.csv")
    return _finish(args, report, summary.verification(report, files), summary.unscored_warning("verification", report))


def _expression(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals import summary
    from evals.expression import run_expression

    settings = load_settings(args, expression_detector=args.detector)
    _check_root(args.root)
    report = run_expression(
        settings,
        args.labels,
        args.root,
        args.out,
        workers=args.workers,
        executor=args.executor,
        ray_address=args.ray_address,
        progress=_progress(),
    )
    files = _files(
        args.out, "report.md", "report.json", "confusion.png", "reliability.png", "groups.png", "predictions.csv"
    )
    return _finish(args, report, summary.expression(report, files), summary.unscored_warning("expression", report))


def _calibrate(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals import summary
    from evals.calibrate import run_calibration
    from tools.errors import EvalError

    settings = load_settings(args, model=args.model, detector=args.detector)
    _check_root(args.root)
    report = run_calibration(
        settings,
        args.pairs,
        args.root,
        args.out,
        far=args.far,
        frr=args.frr,
        confidence=args.confidence,
        bootstrap=args.bootstrap,
        write=not args.dry_run,
        workers=args.workers,
        executor=args.executor,
        ray_address=args.ray_address,
        progress=_progress(),
    )
    _finish(
        args, report, summary.calibration(report) + f"\nwrote {_files(args.out, 'calibration.md', 'calibration.json')}"
    )
    if not report.demonstrated:
        # the figures are printed and written; the exit code tells a script that nothing was calibrated
        raise EvalError(f"no threshold written: {report.message}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings, print_json
    from evals.prepare import prepare
    from tools.weights import install_weights

    settings = load_settings(args)
    install_weights(settings)  # the expression crops are cut where the engine finds the faces
    photos = args.photos or settings.home / "sample-photos"
    progress = _progress()
    result = prepare(args.out, photos=photos, settings=settings, size=args.size, progress=progress)
    progress.close()
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        print(
            f"prepared {result.n_images} images in {result.root}: {result.n_pairs} pairs "
            f"({result.n_genuine} genuine, {result.n_impostor} impostor) in pairs.csv, "
            f"{result.n_expression_images} labelled images in labels.csv"
        )
        print(f"note: {result.caveat}")
        for omitted in result.omitted:
            print(f"note: built without {omitted}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings, print_json
    from evals.bench import run_bench

    settings = load_settings(args)
    if (args.pairs is None) != (args.root is None):
        from tools.errors import UserError

        raise UserError("give both --pairs and --root, or neither (the shipped set)")
    result = run_bench(
        settings,
        out=args.out,
        pairs_file=args.pairs,
        root=args.root,
        max_pairs=args.max_pairs,
        workers=args.workers,
    )
    if args.json:
        print_json(result)
    else:
        print((args.out / "bench.md").read_text(encoding="utf-8"))
        print(f"wrote bench.json, bench.md in {args.out}")
    return 0


def _agent(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals import summary
    from evals.agent_eval import DEFAULT_SUITE, run_agent_eval, write_reports
    from evals.audit import record_eval_run
    from tools.sample_photos import ensure_sample_photos
    from tools.weights import install_weights

    settings = load_settings(args)
    install_weights(settings)
    progress = _progress()
    progress.step("fetching the package photos")
    photos = ensure_sample_photos(args.photos or settings.home / "sample-photos")
    report = run_agent_eval(
        args.suite or DEFAULT_SUITE,
        settings=settings,
        photos=photos,
        reasoner_kind=args.reasoner,
        only=args.only,
        progress=progress,
    )
    progress.close()
    write_reports(report, args.out)
    headline = report.model_dump(exclude={"scenarios"})
    # every run an operator starts is audited: there is deliberately no switch to skip it
    record_eval_run(settings, eval_kind="agent", dataset_sha256=report.suite_sha256, summary=headline)
    return _finish(args, report, summary.agent(report, _files(args.out, "report.md", "report.json")))


def _soak(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings, print_json
    from evals.audit import record_eval_run
    from evals.bench import shipped_set
    from evals.datasets import file_sha256
    from evals.soak import run_soak, write_report
    from tools.errors import UserError
    from tools.weights import install_weights

    settings = load_settings(args)
    if (args.pairs is None) != (args.root is None):
        raise UserError("give both --pairs and --root, or neither (the shipped set)")
    install_weights(settings)
    pairs, root = (args.pairs, args.root) if args.pairs else shipped_set(settings)
    progress = _progress()
    report = run_soak(settings, pairs, root, calls=args.calls, progress=progress)
    progress.close()
    write_report(report, args.out)
    summary = report.model_dump(exclude={"samples"})
    record_eval_run(settings, eval_kind="soak", dataset_sha256=file_sha256(pairs), summary=summary)
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print((args.out / "soak.md").read_text(encoding="utf-8"))
    return 0
