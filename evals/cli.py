"""``facegate eval``: verification and expression evaluations, the shipped sets, and the benchmark.

Plugged into the CLI through the ``facegate.commands`` entry point. Nothing heavy is imported at module level
(``facegate --help`` must stay fast): handlers import what they need.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agent.cli.common import namespace_handler

PATH = click.Path(path_type=Path)
_POSITIVE = click.IntRange(min=1)


def _run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    # applied bottom-up: the options show in --help in the order of the old argparse parser
    f = click.option("--json", is_flag=True, help="print the report as JSON on stdout")(f)
    f = click.option(
        "--ray-address", help="Ray cluster to join (default with --executor ray: start a local one, 2 CPUs)"
    )(f)
    f = click.option(
        "--executor", type=click.Choice(("local", "ray")), default="local", help="local process pool or a Ray cluster"
    )(f)
    return click.option("--workers", type=_POSITIVE, help="worker processes (default: the number of CPUs)")(f)


def register(cli: click.Group) -> None:
    cli.add_command(ev)


@click.group("eval")
def ev() -> None:
    """Evaluate verification and expression accuracy and speed."""


@ev.command("verification", help="face verification over an LFW-style pair list")
@click.option("--pairs", type=PATH, required=True, help="CSV with columns img1,img2,same (1 or 0)")
@click.option("--root", type=PATH, required=True, help="folder the image paths are relative to")
@click.option("--out", type=PATH, required=True, help="folder for report.json, report.md, roc.png")
@click.option("--model", help="recognition model (default: the configured one)")
@click.option("--detector", help="face detector (default: the configured one)")
@click.option("--threshold", type=float, help="distance threshold (default: DeepFace's for model+metric)")
@_run_options
@namespace_handler
def _verification_cmd(args: argparse.Namespace) -> int:
    return _verification(args)


@ev.command("expression", help="expression recognition over a labelled list")
@click.option("--labels", type=PATH, required=True, help="CSV with columns file,label")
@click.option("--root", type=PATH, required=True, help="folder the image paths are relative to")
@click.option("--out", type=PATH, required=True, help="folder for report.json, report.md, confusion.png")
@click.option("--detector", help="face detector for expressions (default: the configured one)")
@_run_options
@namespace_handler
def _expression_cmd(args: argparse.Namespace) -> int:
    return _expression(args)


@ev.command("calibrate", help="the threshold that meets a target error rate on your labelled pairs")
@click.option("--pairs", type=PATH, required=True, help="CSV with columns img1,img2,same (1 or 0)")
@click.option("--root", type=PATH, required=True, help="folder the image paths are relative to")
@click.option("--out", type=PATH, required=True, help="folder for calibration.json, calibration.md")
@click.option("--far", type=float, help="target false-accept rate, e.g. 0.001")
@click.option("--frr", type=float, help="target false-reject rate, e.g. 0.01")
@click.option("--confidence", type=float, default=0.95, help="confidence of the intervals (default 0.95)")
@click.option("--bootstrap", type=int, default=1000, help="bootstrap rounds for the threshold's interval")
@click.option("--dry-run", is_flag=True, help="report only; write no calibration file")
@click.option("--model", help="recognition model (default: the configured one)")
@click.option("--detector", help="face detector (default: the configured one)")
@_run_options
@namespace_handler
def _calibrate_cmd(args: argparse.Namespace) -> int:
    if (args.far is None) == (args.frr is None):
        raise click.UsageError("give exactly one of --far and --frr")
    return _calibrate(args)


@ev.command("prepare", help="build evaluation sets from photos that packages ship")
@click.option("--out", type=PATH, required=True, help="folder to build the sets in")
@click.option("--size", type=click.Choice(("full", "tiny")), default="full")
@click.option("--photos", type=PATH, help="cache of the package photos (default: <home>/sample-photos)")
@click.option("--json", is_flag=True)
@namespace_handler
def _prepare_cmd(args: argparse.Namespace) -> int:
    return _prepare(args)


@ev.command("bench", help="plain DeepFace.verify against facegate, side by side")
@click.option("--pairs", type=PATH, help="pair list (default: the shipped set, prepared if missing)")
@click.option("--root", type=PATH, help="folder the pair list's paths are relative to")
@click.option("--out", type=PATH, default=Path("facegate-bench"), help="folder for bench.json, bench.md")
@click.option("--max-pairs", type=int, default=0,
              help="time only a fixed stratified sample of this many pairs (default 0: all pairs)")  # fmt: skip
@click.option("--workers", type=_POSITIVE, help="facegate's worker processes (default: CPUs)")
@click.option("--json", is_flag=True)
@namespace_handler
def _bench_cmd(args: argparse.Namespace) -> int:
    return _bench(args)


@ev.command("soak", help="resident memory of one engine over many verifications")
@click.option("--pairs", type=PATH, help="pair list whose images are cycled (default: the shipped set)")
@click.option("--root", type=PATH, help="folder the pair list's paths are relative to")
@click.option("--calls", type=_POSITIVE, default=2000, help="verifications to run (default 2000)")
@click.option("--out", type=PATH, required=True, help="folder for soak.json, soak.md")
@click.option("--json", is_flag=True, help="print the report as JSON on stdout")
@namespace_handler
def _soak_cmd(args: argparse.Namespace) -> int:
    return _soak(args)


@ev.command("provenance", help="time the C2PA provenance check per image (signed, unsigned, tampered)")
@click.option("--out", type=PATH, required=True, help="folder for provenance.json, provenance.md")
@click.option("--repeats", type=_POSITIVE, default=20, help="checks of each image (default 20)")
@click.option("--photos", type=PATH, help="cache of the package photos (default: <home>/sample-photos)")
@click.option("--json", is_flag=True, help="print the report as JSON on stdout")
@namespace_handler
def _provenance_cmd(args: argparse.Namespace) -> int:
    return _provenance(args)


@ev.command("mcp", help="per-call overhead of the MCP server (stdio or HTTP) against the same calls in process")
@click.option("--repeats", type=_POSITIVE, default=30, help="calls of each kind (default 30)")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", help="the server's transport")
@click.option("--photos", type=PATH, help="cache of the package photos (default: <home>/sample-photos)")
@click.option("--out", type=PATH, help="folder for mcp.json and mcp.md (default: print only)")
@click.option("--json", is_flag=True, help="print the report as JSON on stdout")
@namespace_handler
def _mcp_cmd(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals.audit import record_eval_run
    from evals.mcp_bench import run_mcp_bench, summary

    settings = load_settings(args)
    photos = args.photos or settings.home / "sample-photos"
    report = run_mcp_bench(settings, photos=photos, repeats=args.repeats, transport=args.transport)
    text = summary(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mcp.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
        (args.out / "mcp.md").write_text(text + "\n", encoding="utf-8")
    overhead = {e.mode: {c.call: c.overhead_ms for c in e.calls} for e in report.eras}
    record_eval_run(settings, eval_kind="mcp", dataset_sha256=report.photos_sha256,
                    summary={"repeats": report.repeats, "transport": report.transport,
                             "mcp_layer_ms": overhead})  # fmt: skip
    return _finish(args, report, text)


@ev.command("agent", help="agent policy scenarios: violations, refusals, decisions, leaks, audit")
@click.option(
    "--suite", type=PATH, multiple=True, help="scenario suite YAML, repeatable (default: every suite in evals/suites)"
)
@click.option("--out", type=PATH, required=True, help="folder for report.json, report.md")
@click.option("--reasoner", type=click.Choice(("offline", "gemini")), default="offline")
@click.option("--photos", type=PATH, help="cache of the package photos (default: <home>/sample-photos)")
@click.option("--only", multiple=True, metavar="ID", help="run only this scenario (repeatable)")
@click.option("--json", is_flag=True, help="print the report as JSON on stdout")
@namespace_handler
def _agent_cmd(args: argparse.Namespace) -> int:
    return _agent(args)


@ev.command("load", help="concurrent sessions against facegate behind LangGraph's server, per database")
@click.option("--sessions", type=_POSITIVE, default=4, help="concurrent sessions (default 4)")
@click.option("--turns", type=_POSITIVE, default=5, help="turns per session, each a new thread (default 5)")
@click.option("--duration", type=click.FloatRange(min=1), default=180.0, help="no turn starts after this many s")
@click.option("--database", "databases", multiple=True, metavar="URL",
              help="'sqlite' (a fresh home) or a postgresql:// URL; repeat to compare (default: sqlite)")  # fmt: skip
@click.option("--servers", "servers", multiple=True, type=_POSITIVE, metavar="N",
              help="server processes sharing each database; repeat to compare (default: 1)")  # fmt: skip
@click.option("--photos", type=PATH, help="cache of the package photos (default: <home>/sample-photos)")
@click.option("--out", type=PATH, required=True, help="folder for load.json, load.md")
@click.option("--json", is_flag=True, help="print the report as JSON on stdout")
@namespace_handler
def _load_cmd(args: argparse.Namespace) -> int:
    return _load(args)


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
    from evals.errors import EvalError

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
    from evals.errors import EvalError

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
    from evals.agent_eval import run_agent_eval, write_reports
    from evals.audit import record_eval_run
    from tools.sample_photos import ensure_sample_photos
    from tools.weights import install_weights

    settings = load_settings(args)
    install_weights(settings)
    progress = _progress()
    progress.step("fetching the package photos")
    photos = ensure_sample_photos(args.photos or settings.home / "sample-photos")
    report = run_agent_eval(
        list(args.suite) or None,
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


def _provenance(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals.audit import record_eval_run
    from evals.provenance_bench import run_provenance_bench

    settings = load_settings(args)
    photos = args.photos or settings.home / "sample-photos"
    report = run_provenance_bench(settings, photos=photos, out=args.out, repeats=args.repeats)
    medians = {k.kind: k.median_ms for k in report.kinds}
    summary = {"c2pa_version": report.c2pa_version, "repeats": report.repeats, "median_ms": medians}
    record_eval_run(settings, eval_kind="provenance", dataset_sha256=report.photos_sha256, summary=summary)
    return _print_report(args, report, "provenance")


def _load(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings
    from evals.audit import record_eval_run
    from evals.load import run_load

    settings = load_settings(args)
    progress = _progress()
    report = run_load(
        photos=args.photos or settings.home / "sample-photos",
        databases=list(args.databases) or [None],
        sessions=args.sessions,
        turns=args.turns,
        duration_s=args.duration,
        servers=list(args.servers) or [1],
        out=args.out,
        progress=progress,
    )
    progress.close()
    headline: dict[str, Any] = {
        f"{b.backend}x{b.servers}": {"turns": b.turns_done, "errors": b.errors, "per_s": b.throughput_per_s,
                                     "p50_ms": b.latency.p50_ms, "p95_ms": b.latency.p95_ms,
                                     "p99_ms": b.latency.p99_ms}
        for b in report.backends
    }  # fmt: skip
    record_eval_run(settings, eval_kind="load", dataset_sha256=_photos_digest(report), summary=headline)
    return _print_report(args, report, "load")


def _print_report(args: argparse.Namespace, report: Any, name: str) -> int:
    """``--json``: the report on stdout; otherwise ``<name>.md`` as written, and where the files are."""
    from agent.cli.common import print_json

    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print((args.out / f"{name}.md").read_text(encoding="utf-8"))
        print(f"wrote {name}.json, {name}.md in {args.out}")
    return 0


def _photos_digest(report: Any) -> str:
    """What the load ran on, by hash: the turn plan (the photos are the packages', named in it)."""
    import hashlib

    from evals.load import ENROLLED, PROBES, REFUSAL

    plan = {"probes": PROBES, "enrolled": ENROLLED, "refusal": REFUSAL, "sessions": report.sessions,
            "turns": report.turns_per_session}  # fmt: skip
    return hashlib.sha256(repr(sorted(plan.items())).encode()).hexdigest()
