"""Terminal output: tables and colour on a terminal, plain text in a pipe or a file (and with ``NO_COLOR``).

Tables are rich tables either way, so columns line up and long cells never break a row: on a terminal with a
header, a rule and colour, fitted to the terminal's width; elsewhere with no header, no colour and no wrapping,
columns two spaces apart, one record a line (what ``grep``, ``cut`` and ``awk`` expect). rich is imported when a
table is printed, not when the CLI starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, Any

import click

# Colours for the words facegate's outputs share: decisions, statuses, checks.
COLOURS = {
    "allow": "green",
    "active": "green",
    "ok": "green",
    "deny": "red",
    "revoked": "red",
    "erased": "red",
    "FAIL": "red",
    "needs_consent": "yellow",
    "expired": "yellow",
    "incomplete": "yellow",
    "warn": "yellow",
    "paused": "yellow",
}


def is_terminal(stream: IO[Any] | None = None) -> bool:
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def color_enabled(stream: IO[Any] | None = None) -> bool:
    """Colour only for a person at a terminal that can show it: https://no-color.org/ and ``TERM=dumb`` say no."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def paint(text: str, word: str | None, *, enabled: bool) -> str:
    """``text`` in the colour of ``word`` (a decision outcome, a status) when colour is on; else unchanged."""
    colour = COLOURS.get(word or "")
    return click.style(text, fg=colour) if enabled and colour else text


def print_table(
    rows: Sequence[Sequence[Any]],
    *,
    headers: Sequence[str],
    colour_by: int | None = None,
    empty: str | None = None,
) -> None:
    """Print ``rows`` under ``headers``. ``colour_by``: index of the column coloured by its value's first word
    (a decision outcome, a status).

    ``empty`` is printed (plain) when there are no rows.
    """
    if not rows:
        if empty is not None:
            click.echo(empty)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    terminal = is_terminal()
    colour = color_enabled()
    if terminal:
        table = Table(box=box.SIMPLE_HEAD, header_style="bold" if colour else "", show_edge=False)
        for header in headers:
            # too narrow a window folds long values onto more lines; an ellipsis would hide an id or a path
            table.add_column(header, overflow="fold")
    else:
        table = Table(*headers, box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    for row in rows:
        cells: list[str | Text] = ["" if v is None else str(v) for v in row]
        if colour and colour_by is not None:
            value = str(cells[colour_by])
            cells[colour_by] = Text(value, style=COLOURS.get(value.partition(" ")[0], ""))
        table.add_row(*cells)
    if terminal:
        Console(no_color=not colour, highlight=False).print(table)
        return
    # Not a terminal: no width to fit, so nothing wraps; rich pads cells to the column width, lines are
    # stripped of that padding at the end.
    console = Console(width=1_000_000, no_color=True, highlight=False, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())
