"""``facegate models install|doctor``: provision the face weights offline and check what can run here."""

from __future__ import annotations

import click

from agent.cli.common import json_option


def register(cli: click.Group) -> None:
    cli.add_command(models)


@click.group()
def models() -> None:
    """Provision and check the face models."""


@models.command()
@json_option
def install(as_json: bool) -> int:
    """Copy the package-shipped face weights into the home folder (no network).

    The engine does the same on first use; this does it now and shows what was copied."""
    from agent.cli.common import err, load_settings, print_json
    from agent.cli.output import print_table
    from tools.weights import install_weights

    report = install_weights(load_settings())
    if as_json:
        print_json(report.model_dump(mode="json") | {"ok": report.ok})
    else:
        click.echo(f"weights folder: {report.weights_dir}")
        print_table([(f.action, f.name, f.source) for f in report.files], headers=("action", "file", "copied from"))
        for missing in report.missing_sources:
            err(f"not installed, cannot copy: {missing}")
    return 0 if report.ok else 1


@models.command()
@json_option
def doctor(as_json: bool) -> int:
    """Check that the configured model, detector and expression backend can run."""
    from agent.cli.common import load_settings, print_json
    from agent.cli.output import color_enabled, paint, print_table
    from tools.weights import doctor as check

    settings = load_settings()
    statuses = check(settings)
    failing = [s for s in statuses if s.required and not s.ok]
    if as_json:
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
        return 1 if failing else 0
    click.echo(f"home: {settings.home}   downloads: {'on' if settings.allow_downloads else 'off'}")
    rows = [("ok" if s.ok else ("FAIL" if s.required else "warn"), s.kind, s.name, s.detail) for s in statuses]
    print_table(rows, headers=("status", "kind", "name", "detail"), colour_by=0)
    colour = color_enabled()
    for s in statuses:
        if not s.ok and s.fix:
            click.echo(paint(f"fix {s.name}: {s.fix}", "FAIL" if s.required else "warn", enabled=colour))
    return 1 if failing else 0
