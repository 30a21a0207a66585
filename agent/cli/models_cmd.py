"""``facegate models install|doctor``: provision the face weights offline and check what can run here."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="provision and check the face models")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")

    install = models_sub.add_parser(
        "install", help="link the package-shipped face weights into the home folder (no network)"
    )
    install.add_argument("--json", action="store_true", help="machine-readable output")
    install.set_defaults(handler=_install)

    doctor = models_sub.add_parser(
        "doctor", help="check that the configured model, detector and expression backend can run"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(handler=_doctor)

    models.set_defaults(handler=lambda args: _usage(models))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _install(args: argparse.Namespace) -> int:
    from agent.cli.common import err, load_settings, print_json
    from tools.weights import install_weights

    settings = load_settings(args)
    report = install_weights(settings)
    if args.json:
        print_json(report.model_dump(mode="json") | {"ok": report.ok})
    else:
        print(f"weights folder: {report.weights_dir}")
        for item in report.files:
            print(f"  {item.action:<16} {item.name}  <- {item.source}")
        for missing in report.missing_sources:
            err(f"not installed, cannot copy: {missing}")
    return 0 if report.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    from agent.cli.common import load_settings, print_json
    from tools.weights import doctor

    settings = load_settings(args)
    statuses = doctor(settings)
    failing = [s for s in statuses if s.required and not s.ok]
    if args.json:
        print_json(
            {
                "ok": not failing,
                "home": str(settings.home),
                "model": settings.model,
                "detector": settings.detector,
                "expression_backend": settings.expression_backend,
                "allow_downloads": settings.allow_downloads,
                "components": [s.model_dump(mode="json") for s in statuses],
            }
        )
    else:
        print(f"home: {settings.home}   downloads: {'on' if settings.allow_downloads else 'off'}")
        for s in statuses:
            mark = "ok" if s.ok else ("FAIL" if s.required else "warn")
            print(f"  {mark:<5} {s.kind:<10} {s.name:<18} {s.detail}")
            if not s.ok and s.fix:
                print(f"        fix: {s.fix}")
    return 1 if failing else 0
