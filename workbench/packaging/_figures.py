"""Figures drawn from a :class:`ModelCard` (pure: card in, plotly figure out).

Metrics of different scales (an MAE of 130 kWh, a MAPE of 5 %, an R² of 0.99) never
share an axis: :func:`metrics_figure` draws one small panel per metric, each with its
own scale, a bar per source (validation, holdout, cross-validation) and the spread over
folds where the card recorded one.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench._metrics import describe
from workbench.presentation import (
    FONT,
    PALETTE,
    Html,
    apply_theme,
    empty_state,
    family_label,
    fmt_count,
    fmt_date_range,
    fmt_duration,
    fmt_number,
    fmt_percent,
    fmt_when,
    inline_code,
    kpi_card,
    kpi_row,
    metric_label,
    table_html,
)
from workbench.presentation._theme import MUTED, TEXT

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench._versions import VersionArtifacts
    from workbench.data import Contract
    from workbench.packaging._card import ModelCard

__all__ = [
    "aliases_by_version",
    "card_header_html",
    "card_sections_html",
    "card_tail_html",
    "contract_of",
    "cost_figure",
    "metric_parts",
    "metrics_figure",
    "version_label",
]

#: Where a score comes from, by the prefix of its name.
_SOURCES = {"valid_": "validation", "holdout_": "holdout", "cv_": "cross-validation"}
#: Metrics that are shares, shown as percentages.
_SHARES = ("mape", "accuracy", "precision", "recall", "f1", "roc_auc")
#: Panels per row of the metrics figure (each keeps ≥ 160 px in an 800 px window).
_COLUMNS = 4


def metric_parts(name: str, source: str = "") -> tuple[str, str]:
    """A card metric's name and recorded source → (metric, where the score comes from):
    ``valid_mae`` → ``("mae", "validation")``; ``rmse`` scored over the folds of the
    tuning study's best trial → ``("rmse", "cross-validation")``."""
    for prefix, where in _SOURCES.items():
        if name.startswith(prefix):
            return name.removeprefix(prefix), where
    if name.endswith("_cv"):  # per-fold scores given when packaging: ``rmse_cv``
        return name.removesuffix("_cv"), "cross-validation"
    if source.startswith("cv of best trial") or source.startswith("cv mean of trial"):
        return name, "study's best<br>trial (CV)"
    if source.startswith("cv"):
        return name, "cross-validation"
    return name, {"run": "training run", "holdout": "holdout"}.get(source, source or "recorded")


def _is_share(base: str) -> bool:
    return any(base.startswith(s) for s in _SHARES)


def _shown(base: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return fmt_percent(value) if _is_share(base) else fmt_number(value)


def metrics_figure(card: ModelCard) -> go.Figure:
    """The card's metrics as small multiples: one panel per metric with its own scale, a
    bar per source, the standard deviation over folds as an error bar and each fold as a
    dot where the card has them."""
    go_: Any = require("plotly.graph_objects", feature="model card figures")
    subplots = require("plotly.subplots", feature="model card figures")
    panels: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, entry in card.metrics.items():
        if entry.get("value") is None or name.endswith("_std"):
            continue
        base, where = metric_parts(name, str(entry.get("source", "")))
        entries = panels.setdefault(base, [])
        same = next(  # validation rows scored again as the holdout: one bar, both names
            (
                k
                for k, (_, e) in enumerate(entries)
                if e.get("value") == entry.get("value") and not e.get("folds")
            ),
            None,
        )
        if same is None or entry.get("folds"):
            entries.append((where, entry))
        else:
            entries[same] = (f"{entries[same][0]}<br>= {where}", entries[same][1])
    names = list(panels) or ["no metric recorded"]
    columns = min(len(names), _COLUMNS)
    rows = math.ceil(len(names) / columns)
    fig = subplots.make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[metric_label(n) for n in names],
        horizontal_spacing=0.08 if columns > 1 else 0.0,
        vertical_spacing=0.5 / rows if rows > 1 else 0.0,
    )
    sources = sorted({w for entries in panels.values() for w, _ in entries})
    colors = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(sources)}
    for i, base in enumerate(panels):
        row, col = i // columns + 1, i % columns + 1
        meaning = describe(base) or metric_label(base)
        for where, scored in panels[base]:
            value = float(scored["value"])
            std = scored.get("std")
            text = _shown(base, value) + (f" ± {_shown(base, float(std))}" if std else "")
            fig.add_trace(
                go_.Bar(
                    x=[where],
                    y=[value],
                    marker_color=colors[where],
                    error_y={"type": "data", "array": [float(std)], "color": "#1F2328"}
                    if std
                    else None,
                    text=[_shown(base, value)],
                    textposition="inside",
                    insidetextanchor="middle",
                    hovertext=[f"{meaning}<br>{where}: {text}"],
                    hoverinfo="text",
                    name=where,
                    showlegend=False,
                ),
                row=row,
                col=col,
            )
            folds = [float(f) for f in scored.get("folds") or []]
            if len(folds) > 1:
                fig.add_trace(
                    go_.Scatter(
                        x=[where] * len(folds),
                        y=folds,
                        mode="markers",
                        marker={"color": "#1F2328", "size": 5, "opacity": 0.6},
                        hovertext=[f"fold {k + 1}: {_shown(base, f)}" for k, f in enumerate(folds)],
                        hoverinfo="text",
                        name=f"{where} folds",
                        showlegend=False,
                    ),
                    row=row,
                    col=col,
                )
        if _is_share(base):
            fig.update_yaxes(tickformat=".0%", row=row, col=col)
    for annotation in fig.layout.annotations:  # panel titles: left, like a card's headings
        annotation.update(font={"size": 13})
    apply_theme(fig, height=90 + 230 * rows)
    fig.update_layout(
        title=f"{card.name} v{card.version}: metrics (each on its own scale)",
        bargap=0.35,
        margin={"l": 48, "r": 16, "t": 76, "b": 40},
    )
    fig.update_xaxes(tickangle=0, automargin=True)
    return fig


#: What the card measured: (key, label, seconds per unit of the recorded value).
_COSTS = (
    ("fit_seconds", "fit", 1.0),
    ("load_seconds", "load in a fresh process", 1.0),
    ("single_row_ms", "predict 1 row", 1e-3),
    ("batch_ms", "predict a batch", 1e-3),
)


def cost_figure(card: ModelCard) -> go.Figure:
    """What the version costs to run, as measured when it was packaged: durations on one
    logarithmic time axis (seconds to fit, milliseconds to predict), labelled in the unit
    that reads best."""
    go_: Any = require("plotly.graph_objects", feature="model card figures")
    shown = []
    for key, label, scale in _COSTS:
        value = card.cost.get(key)
        if value is None:
            continue
        if key == "batch_ms":
            label = f"predict {fmt_number(card.cost.get('batch_rows', 1000))} rows"
        shown.append((label, float(value) * scale))
    fig = go_.Figure(
        go_.Bar(
            y=[label for label, _ in shown],
            x=[seconds for _, seconds in shown],
            orientation="h",
            text=[fmt_duration(seconds) for _, seconds in shown],
            textposition="auto",
            marker_color=PALETTE[1],
            hoverinfo="text",
            hovertext=[f"{label}: {fmt_duration(s)}" for label, s in shown],
        )
    )
    per_second = card.cost.get("predictions_per_second")
    subtitle = f" ({fmt_number(float(per_second))} predictions/s)" if per_second else ""
    decades = [10.0**k for k in range(-6, 5)]
    if shown:  # ticks at whole decades, labelled as durations (1 ms, 100 ms, 10 s)
        low, high = min(s for _, s in shown), max(s for _, s in shown)
        decades = [d for d in decades if low / 10 <= d <= high * 10]
    apply_theme(fig, height=80 + 44 * max(len(shown), 1))
    fig.update_layout(
        title=f"cost{subtitle}",
        xaxis={
            "type": "log",
            "title": "time (log scale)",
            "tickvals": decades,
            "ticktext": [fmt_duration(d) for d in decades],
        },
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 16, "r": 16, "t": 50, "b": 44},
    )
    return fig


# ---------------------------------------------------------------- the card as a page
_H = f"font:600 15px/22px {FONT};color:{TEXT};margin:20px 0 6px"
_SOURCES_FIRST = ("holdout", "validation", "cross-validation", "study's best<br>trial (CV)")


def aliases_by_version(client: Any, name: str) -> dict[int, tuple[str, ...]]:
    """The aliases of ``name``'s versions as the registry holds them now."""
    model = client.get_registered_model(name)
    by_version: dict[int, list[str]] = {}
    for alias, version in sorted(dict(getattr(model, "aliases", {}) or {}).items()):
        by_version.setdefault(int(version), []).append(alias)
    return {v: tuple(a) for v, a in by_version.items()}


def version_label(version: int, aliases: tuple[str, ...]) -> str:
    """``v3 · @champion`` (the picker's text for a version)."""
    return f"v{version}" + (" · " + ", ".join(f"@{a}" for a in aliases) if aliases else "")


def contract_of(found: VersionArtifacts) -> Contract | None:
    """The data contract stored with the version, if it has one."""
    from workbench.data import Contract

    path = found.contract_path
    return Contract.load(path) if path is not None else None


def _alias_pill(alias: str) -> str:
    return (
        f"<span style='display:inline-block;padding:1px 10px;border-radius:999px;"
        f"background:#DDF4FF;color:#0550AE;font:600 12px/20px {FONT};margin-left:6px;"
        f"vertical-align:middle'>@{html.escape(alias)}</span>"
    )


def _headline(card: ModelCard) -> list[tuple[str, float, str]]:
    """Up to three (metric, value, source) to show as key figures: each metric's most
    telling score (holdout, then validation, then cross-validation)."""
    best: dict[str, tuple[int, float, str]] = {}
    for name, entry in card.metrics.items():
        if entry.get("value") is None or name.endswith("_std"):
            continue
        base, where = metric_parts(name, str(entry.get("source", "")))
        rank = _SOURCES_FIRST.index(where) if where in _SOURCES_FIRST else len(_SOURCES_FIRST)
        if base not in best or rank < best[base][0]:
            best[base] = (rank, float(entry["value"]), where)
    return [(base, value, where) for base, (_, value, where) in list(best.items())[:3]]


def card_header_html(card: ModelCard, aliases: Sequence[str], link: str | None) -> Html:
    """The card's head: name and version, its aliases now, what it is for, an MLflow link
    (only with ``link``), and key figures (scores, latency, training rows)."""
    pills = "".join(_alias_pill(a) for a in aliases) or (
        f"<span style='color:{MUTED};font:13px {FONT};margin-left:6px'>no alias</span>"
    )
    open_link = (
        f"<a href='{html.escape(link)}' target='_blank' rel='noopener' "
        f"style='font:13px {FONT};color:{PALETTE[0]};margin-left:12px'>Open in MLflow ↗</a>"
        if link
        else ""
    )
    task = f"{card.task} of {card.target}" if card.target else card.task
    cards = [
        kpi_card(
            metric_label(base),
            _shown(base, value),
            note=where.replace("<br>", " "),
        )
        for base, value, where in _headline(card)
    ]
    cost = card.cost
    if cost.get("single_row_ms") is not None:
        cards.append(
            kpi_card(
                "latency, 1 row",
                fmt_duration(float(cost["single_row_ms"]) / 1e3),
                note=(
                    f"{fmt_number(float(cost['predictions_per_second']))} predictions/s"
                    if cost.get("predictions_per_second")
                    else None
                ),
            )
        )
    if card.data.get("rows") is not None:
        cards.append(kpi_card("trained on", fmt_count(card.data["rows"], "row", compact=False)))
    return Html(
        f"<div style='font:{FONT};color:{TEXT};max-width:100%'>"
        f"<div style='display:flex;flex-wrap:wrap;align-items:center;gap:4px 0;margin:8px 0 2px'>"
        f"<span style='font:600 22px/30px {FONT}'>{html.escape(card.name)} "
        f"v{card.version}</span>{pills}{open_link}</div>"
        f"<div style='font:14px/20px {FONT};color:{TEXT}'>"
        f"{html.escape(card.purpose or 'No purpose was given when it was packaged.')}</div>"
        f"<div style='font:13px/20px {FONT};color:{MUTED}'>{html.escape(task)} · "
        f"{html.escape(card.estimator)} · packaged {fmt_when(card.created)}</div>"
        + kpi_row(cards)
        + "</div>"
    )


def _summary(entry: Mapping[str, Any]) -> str:
    """A training column's profile in a few words, formatted for people."""
    if entry.get("personal"):
        return "personal: values not shown"
    if "mean" in entry:
        return (
            f"mean {fmt_number(entry['mean'])}, std {fmt_number(entry['std'])}, "
            f"range {fmt_number(entry['min'])} to {fmt_number(entry['max'])}"
        )
    if "true_share" in entry:
        share = entry["true_share"]
        return f"true in {fmt_percent(share)}" if share is not None else "—"
    if "top" in entry:
        return ", ".join(f"{k} ({fmt_percent(v)})" for k, v in entry["top"])
    if "min" in entry:
        return fmt_date_range(entry["min"], entry["max"])
    return ""


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    """Label: value lines, labels in a column of their own (wrapping under each other in
    a narrow window)."""
    items = "".join(
        f"<div style='color:{MUTED};padding:3px 0'>{html.escape(k)}</div>"
        f"<div style='padding:3px 0;overflow-wrap:anywhere;min-width:0'>{html.escape(v)}</div>"
        for k, v in rows
    )
    return (
        f"<div style='display:grid;grid-template-columns:minmax(90px,max-content) minmax(0,1fr);"
        f"gap:0 16px;font:13px/20px {FONT};color:{TEXT};max-width:100%'>{items}</div>"
    )


def _section(title: str, body: str) -> str:
    return f"<div style='{_H}'>{html.escape(title)}</div>{body}"


def card_sections_html(card: ModelCard, contract: Contract | None, link: str | None) -> Html:
    """The card's body: overview, data contract, training data, features, feature views,
    parameters and tuning study, as formatted tables."""
    from workbench.data import contract_table

    overview = [
        {"": "Model", "value": " → ".join(card.steps) if card.steps else card.estimator},
        {"": "Target", "value": card.target or "—"},
        {"": "Registered as", "value": card.model_uri},
        {"": "Training run", "value": card.run_id},
        {
            "": "Serialization",
            "value": f"{card.serialization['format']}: {card.serialization['reason']}",
        },
    ]
    parts = [_section("Overview", _facts([(r[""], r["value"]) for r in overview]))]
    if contract is not None:
        parts.append(_section("Data contract", contract_table(contract, caption="")))
    else:
        parts.append(
            _section(
                "Data contract",
                empty_state(
                    "No data contract was stored with this version.",
                    "Package it with `contract=` (a `workbench.data.Contract`) to record "
                    "what each column must hold.",
                ),
            )
        )
    data = card.data
    profile = [
        {
            "column": e["column"],
            "type": e["dtype"],
            "missing": e["missing"],
            "distinct": e["distinct"],
            "summary": _summary(e),
        }
        for e in data.get("profile", [])
    ]
    rows = fmt_count(data.get("rows"), "row", compact=False)
    span = f", {data['span']}" if data.get("span") else ""
    parts.append(
        _section(
            f"Training data ({rows}{span})",
            table_html(profile, formats={"missing": "percent"}, max_height=None),
        )
    )
    features = [
        {
            "feature": f["name"],
            "type": f["type"],
            "when scoring": "may be missing" if f.get("optional") else "required",
        }
        for f in card.features
    ]
    parts.append(_section("Features (the model's signature)", table_html(features)))
    if card.feature_views:
        views = [
            {
                "view": view,
                "version": v.get("version"),
                "fingerprint": str(v.get("fingerprint"))[:16],
            }
            for view, v in card.feature_views.items()
        ]
        parts.append(_section("Feature views", table_html(views, max_height=None)))
    params = [
        {"parameter": k, "value": "—" if v is None else str(v)}
        for k, v in sorted(card.params.items())
    ]
    parts.append(
        _section("Parameters", table_html(params, max_height=280, empty="No parameter recorded."))
    )
    if card.tuning:
        t = card.tuning
        t = {**t, "best_family": family_label(str(t.get("best_family")))}
        study = [
            {"": label, "value": str(t[key])}
            for label, key in (
                ("Study", "study"),
                ("Best family", "best_family"),
                ("Best score (CV)", "best_value"),
                ("Trials", "trials"),
                ("Storage", "storage"),
            )
            if t.get(key) is not None
        ]
        if isinstance(t.get("best_value"), (int, float)):
            study = [
                {**row, "value": fmt_number(t["best_value"])}
                if row[""] == "Best score (CV)"
                else row
                for row in study
            ]
        where = (
            f"<a href='{html.escape(str(t['link']))}' target='_blank' rel='noopener'>"
            "the study's runs in MLflow ↗</a>"
            if link and t.get("link")
            else "Its trials are in the experiments app: `workbench dashboard experiments`."
        )
        parts.append(
            _section(
                "Tuning study",
                Html(_facts([(r[""], r["value"]) for r in study]))
                + Html(f"<div style='font:13px/20px {FONT};margin-top:4px'>")
                + (Html(where) if link and t.get("link") else inline_code(where))
                + Html("</div>"),
            )
        )
    return Html("".join(parts))


def card_tail_html(card: ModelCard) -> Html:
    """Where the cost was measured, and the pinned requirements."""
    cost = card.cost
    notes = [
        text
        for text in (
            f"Measured on {cost['machine']}." if cost.get("machine") else "",
            f"Fit time from {cost['fit_source']}." if cost.get("fit_source") else "",
        )
        if text
    ]
    requirements = "".join(
        f"<code style='display:inline-block;margin:2px 4px 2px 0;padding:1px 6px;"
        f"border-radius:4px;background:#EAEEF2;font-size:12px'>{html.escape(r)}</code>"
        for r in card.requirements
    )
    return Html(
        f"<div style='font:12px/18px {FONT};color:{MUTED}'>{html.escape(' '.join(notes))}</div>"
        + _section(
            "Requirements (pinned)", f"<div style='overflow-wrap:anywhere'>{requirements}</div>"
        )
    )
