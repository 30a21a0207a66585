"""Figures per group of people (or of capture conditions).

Any column of a pairs or labels file beyond the required ones is a grouping: age band, skin-tone scale, sex,
capture device, lighting, whatever the operator labelled. For each such column and each of its values this
module gives the counts and error rates with Clopper-Pearson intervals, and the largest ratio between groups
of each headline rate. The shipped sets have no demographic labels (no package ships such a set): their
columns (source, augmentation, kind) exercise the tables; bias figures need an operator-supplied labelled set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

from evals.metrics import clopper_pearson
from tools.calibration import Proportion

# A column with more distinct values than this is not a grouping (an id, a free-text note): it is skipped.
MAX_GROUPS = 50


class GroupRow(BaseModel):
    group: str
    n: int  # pairs (verification) or scored images (expression)
    rates: dict[str, Proportion]  # verification: fmr, fnmr; expression: accuracy, recall:<class>


class Spread(BaseModel):
    """The highest and lowest value of one rate across a column's groups (groups with no trials left out)."""

    metric: str
    highest: str | None = None
    highest_rate: float | None = None
    lowest: str | None = None
    lowest_rate: float | None = None
    ratio: float | None = None  # highest / lowest; None when fewer than two groups or the lowest is 0
    note: str = ""


class GroupTable(BaseModel):
    column: str
    kind: Literal["verification", "expression"]
    rows: list[GroupRow]
    spreads: list[Spread]
    skipped: str | None = None  # why the column has no rows (too many distinct values)


def proportion(k: int, n: int, confidence: float = 0.95) -> Proportion:
    low, high = clopper_pearson(k, n, confidence)
    return Proportion(k=k, n=n, rate=k / n if n else None, low=low, high=high, confidence=confidence)


def _columns(groupings: Sequence[dict[str, str]]) -> list[str]:
    return list(dict.fromkeys(col for g in groupings for col in g))


def _spread(metric: str, rows: list[GroupRow]) -> Spread:
    values = [(r.group, r.rates[metric].rate) for r in rows if metric in r.rates and r.rates[metric].n]
    measured = [(g, v) for g, v in values if v is not None]
    if len(measured) < 2:
        return Spread(metric=metric, note="fewer than two groups with data")
    hi = max(measured, key=lambda gv: gv[1])
    lo = min(measured, key=lambda gv: gv[1])
    spread = Spread(metric=metric, highest=hi[0], highest_rate=hi[1], lowest=lo[0], lowest_rate=lo[1])
    if lo[1] == 0:
        note = "0 in every group" if hi[1] == 0 else f"{lo[0]} has none"
        return spread.model_copy(update={"ratio": 1.0 if hi[1] == 0 else None, "note": note})
    return spread.model_copy(update={"ratio": hi[1] / lo[1]})


def _too_many(column: str, kind: Literal["verification", "expression"], n: int) -> GroupTable:
    return GroupTable(
        column=column,
        kind=kind,
        rows=[],
        spreads=[],
        skipped=f"{n} distinct values (more than {MAX_GROUPS}): not a grouping",
    )


def verification_groups(
    groupings: Sequence[dict[str, str]],
    distances: Sequence[float] | np.ndarray,
    same: Sequence[bool] | np.ndarray,
    threshold: float,
    confidence: float = 0.95,
) -> list[GroupTable]:
    """FMR and FNMR at ``threshold`` per group, for every group column of the scored pairs."""
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    accepted = d <= threshold
    tables = []
    for column in _columns(groupings):
        values = np.array([g.get(column, "(blank)") for g in groupings], dtype=object)
        names = sorted(set(values.tolist()))
        if len(names) > MAX_GROUPS:
            tables.append(_too_many(column, "verification", len(names)))
            continue
        rows = []
        for name in names:
            m = values == name
            imp, gen = m & ~s, m & s
            rows.append(
                GroupRow(
                    group=str(name),
                    n=int(m.sum()),
                    rates={
                        "fmr": proportion(int((accepted & imp).sum()), int(imp.sum()), confidence),
                        "fnmr": proportion(int((~accepted & gen).sum()), int(gen.sum()), confidence),
                    },
                )
            )
        tables.append(
            GroupTable(
                column=column, kind="verification", rows=rows, spreads=[_spread("fmr", rows), _spread("fnmr", rows)]
            )
        )
    return tables


def expression_groups(
    groupings: Sequence[dict[str, str]],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    confidence: float = 0.95,
) -> list[GroupTable]:
    """Accuracy and per-class recall per group, for every group column of the scored images."""
    tables = []
    for column in _columns(groupings):
        values = [g.get(column, "(blank)") for g in groupings]
        names = sorted(set(values))
        if len(names) > MAX_GROUPS:
            tables.append(_too_many(column, "expression", len(names)))
            continue
        rows = []
        for name in names:
            idx = [i for i, v in enumerate(values) if v == name]
            rates = {"accuracy": proportion(sum(y_true[i] == y_pred[i] for i in idx), len(idx), confidence)}
            for label in labels:
                of_class = [i for i in idx if y_true[i] == label]
                if of_class:
                    hits = sum(y_pred[i] == label for i in of_class)
                    rates[f"recall:{label}"] = proportion(hits, len(of_class), confidence)
            rows.append(GroupRow(group=name, n=len(idx), rates=rates))
        errors = [r.model_copy(update={"rates": {"error": _complement(r.rates["accuracy"], confidence)}}) for r in rows]
        tables.append(
            GroupTable(
                column=column,
                kind="expression",
                rows=rows,
                spreads=[_spread("accuracy", rows), _spread("error", errors)],
            )
        )
    return tables


def _complement(p: Proportion, confidence: float) -> Proportion:
    return proportion(p.n - p.k, p.n, confidence)


def _fmt_rate(p: Proportion | None) -> str:
    if p is None or p.rate is None:
        return "n/a"
    return f"{100 * p.rate:.1f}% ({p.k}/{p.n}; {100 * p.low:.1f}-{100 * p.high:.1f}%)"


def _fmt_spread(s: Spread) -> str:
    if s.highest is None or not s.highest_rate:
        return f"{s.metric}: {s.note}"
    ratio = f"{s.ratio:.2f}x" if s.ratio is not None else "unbounded"
    return (
        f"{s.metric}: highest {s.highest} {100 * (s.highest_rate or 0):.1f}%, lowest {s.lowest} "
        f"{100 * (s.lowest_rate or 0):.1f}%, ratio {ratio}" + (f" ({s.note})" if s.note else "")
    )


def render_markdown(tables: Sequence[GroupTable], *, confidence: float = 0.95, plot: str | None = None) -> list[str]:
    """The "By group" section of a report (empty when the list file has no group columns)."""
    if not tables:
        return []
    level = f"{100 * confidence:g}%"
    lines = [
        "## By group",
        "",
        f"Every extra column of the list file is a grouping. Rates with {level} Clopper-Pearson intervals. "
        "These groups are whatever the list file labels: demographic bias figures need a set labelled with them.",
        "",
    ]
    for t in tables:
        lines += [f"### `{t.column}`", ""]
        if t.skipped:
            lines += [f"Skipped: {t.skipped}.", ""]
            continue
        if t.kind == "verification":
            lines += ["| group | pairs | FMR | FNMR |", "| --- | --- | --- | --- |"]
            lines += [
                f"| {r.group} | {r.n} | {_fmt_rate(r.rates.get('fmr'))} | {_fmt_rate(r.rates.get('fnmr'))} |"
                for r in t.rows
            ]
        else:
            lines += ["| group | images | accuracy | recall per class |", "| --- | --- | --- | --- |"]
            for r in t.rows:
                recalls = ", ".join(
                    f"{k.removeprefix('recall:')} {_fmt_rate(v)}" for k, v in r.rates.items() if k.startswith("recall:")
                )
                lines.append(f"| {r.group} | {r.n} | {_fmt_rate(r.rates['accuracy'])} | {recalls or 'n/a'} |")
        lines += ["", "Largest ratio between groups: " + "; ".join(_fmt_spread(s) for s in t.spreads) + ".", ""]
    if plot:
        lines += [f"![by group]({plot})", ""]
    return lines
