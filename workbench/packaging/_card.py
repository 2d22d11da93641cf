"""The model card: what a model is for, what it learned from, how good and how costly it is.

Written as Markdown (for the registry and code review) and self-contained HTML (for
people), from one :class:`ModelCard` record, stored as JSON beside them and read back by
:func:`card_of`. Personal columns of the data contract are described by counts only: no
value of theirs appears on a card.
"""

from __future__ import annotations

import dataclasses
import html
import json
import numbers
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ModelError
from workbench._metrics import describe
from workbench._versions import CARD_FILES, VersionArtifacts

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings

__all__ = ["ModelCard", "card_of", "feature_rows", "metric_entry", "profile_columns"]


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:
        return "NaN"
    magnitude = abs(value)
    if magnitude and (magnitude >= 1e6 or magnitude < 1e-3):
        return f"{value:.3g}"
    return f"{value:,.4g}" if magnitude < 1000 else f"{value:,.1f}"


def profile_columns(
    frame: pd.DataFrame, personal: Iterable[str] = (), top: int = 3
) -> list[dict[str, Any]]:
    """A compact profile per column: type, missing share, range or top categories.

    Personal columns get counts only (rows, missing, distinct), never values.
    """
    import pandas as pd

    hidden = set(personal)
    rows = []
    for name in frame.columns:
        series = frame[name]
        entry: dict[str, Any] = {
            "column": str(name),
            "dtype": str(series.dtype),
            "missing": float(series.isna().mean()) if len(series) else 0.0,
            "distinct": int(series.nunique(dropna=True)),
        }
        if name in hidden:
            entry["personal"] = True
        elif pd.api.types.is_bool_dtype(series.dtype):
            entry["true_share"] = (
                float(series.dropna().astype(bool).mean()) if series.notna().any() else None
            )
        elif pd.api.types.is_numeric_dtype(series.dtype):
            values = series.dropna().astype(float)
            if len(values):
                entry.update(
                    mean=float(values.mean()),
                    std=float(values.std(ddof=0)),
                    min=float(values.min()),
                    max=float(values.max()),
                )
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            if series.notna().any():
                entry.update(min=str(series.min()), max=str(series.max()))
        else:
            counts = series.astype(object).value_counts(dropna=True).head(top)
            total = max(int(series.notna().sum()), 1)
            entry["top"] = [[str(k), int(v) / total] for k, v in counts.items()]
        rows.append(entry)
    return rows


def _describe(entry: Mapping[str, Any]) -> str:
    if entry.get("personal"):
        return "personal: values not shown"
    if "mean" in entry:
        return (
            f"mean {_number(entry['mean'])}, std {_number(entry['std'])}, "
            f"range {_number(entry['min'])} … {_number(entry['max'])}"
        )
    if "true_share" in entry:
        share = entry["true_share"]
        return f"true {_number(100 * share)} %" if share is not None else "true —"
    if "top" in entry:
        return ", ".join(f"{k} ({100 * v:.0f} %)" for k, v in entry["top"])
    if "min" in entry:
        return f"{entry['min']} … {entry['max']}"
    return ""


@dataclasses.dataclass
class ModelCard:
    """Everything the card shows; :meth:`to_markdown` and :meth:`to_html` render it.

    Attributes:
        name, version, alias: The registered model version.
        purpose: What the model is for (the description given when packaging).
        task: ``regression`` or ``classification``.
        estimator: The final estimator's class; ``steps`` the pipeline's step classes.
        created: When it was packaged (UTC, ISO 8601).
        run_id, model_uri, ui_url: Where it lives (``ui_url`` only where an MLflow UI
            address is configured: a card travels, and names no path or port of the
            machine that made it).
        target: The column it predicts.
        data: Rows, time span and a profile per column (:func:`profile_columns`).
        features: Input columns in order, with their signature types.
        feature_views: Feature-store views used, with version and fingerprint.
        metrics: Name → ``{"value", "std", "folds", "source"}``.
        params: The estimator's parameters and any extra ones given.
        tuning: The Optuna study behind it (name, where it is kept as
            :func:`~workbench.packaging._card_contents.study_storage` says it, parent run,
            best trial).
        cost: Fit time, load time, single-row and batch latency, predictions/s, machine.
        serialization: Format and the reason it was chosen.
        requirements: Pinned requirements.
        contract: Name of the data contract stored with the model, if any.
    """

    name: str
    version: int | None
    alias: str
    purpose: str
    task: str
    estimator: str
    steps: list[str]
    created: str
    run_id: str
    model_uri: str
    ui_url: str | None
    target: str | None
    data: dict[str, Any]
    features: list[dict[str, Any]]
    feature_views: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    params: dict[str, Any]
    tuning: dict[str, Any] | None
    cost: dict[str, Any]
    serialization: dict[str, Any]
    requirements: list[str]
    contract: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ sections
    def _sections(self) -> list[tuple[str, list[str] | None, list[list[str]]]]:
        """(title, table header or None for plain lines, rows) per section."""
        overview = [
            ["Purpose", self.purpose or "—"],
            ["Task", f"{self.task} of `{self.target}`" if self.target else self.task],
            ["Model", " → ".join(self.steps) if self.steps else self.estimator],
            ["Version", f"{self.name} v{self.version} @{self.alias}"],
            ["Packaged", self.created],
            ["Run", self.run_id],
            ["Serialization", f"{self.serialization['format']}: {self.serialization['reason']}"],
        ]
        data = self.data
        data_rows = [
            [
                e["column"],
                e["dtype"],
                f"{100 * e['missing']:.1f} %",
                _number(e["distinct"]),
                _describe(e),
            ]
            for e in data.get("profile", [])
        ]
        feature_rows = [
            [f["name"], f["type"], "optional" if f.get("optional") else "required"]
            for f in self.features
        ]
        view_rows = [
            [view, str(v.get("version")), str(v.get("fingerprint", ""))[:16]]
            for view, v in self.feature_views.items()
        ]
        metric_rows = [
            [
                name,
                describe(name) or "—",
                _number(m.get("value")),
                _number(m.get("std")) if m.get("std") is not None else "—",
                ", ".join(_number(f) for f in m.get("folds") or []) or "—",
                str(m.get("source", "")),
            ]
            for name, m in self.metrics.items()
        ]
        param_rows = [[k, str(v)] for k, v in sorted(self.params.items())]
        cost = self.cost
        cost_rows = [
            [label, _number(cost.get(key)) + unit]
            for label, key, unit in (
                ("Fit time", "fit_seconds", " s"),
                ("Load time (fresh process)", "load_seconds", " s"),
                ("Single-row prediction (median)", "single_row_ms", " ms"),
                (
                    f"{_number(cost.get('batch_rows', 1000))}-row prediction (median)",
                    "batch_ms",
                    " ms",
                ),
                ("Predictions per second", "predictions_per_second", ""),
            )
            if cost.get(key) is not None
        ]
        if cost.get("machine"):
            cost_rows.append(["Measured on", str(cost["machine"])])
        if cost.get("fit_source"):
            cost_rows.append(["Fit time from", str(cost["fit_source"])])
        tuning_rows = [[k, str(v)] for k, v in (self.tuning or {}).items()]
        sections: list[tuple[str, list[str] | None, list[list[str]]]] = [
            ("Overview", None, overview),
            (
                f"Training data ({_number(data.get('rows'))} rows"
                + (f", {data['span']}" if data.get("span") else "")
                + ")",
                ["column", "type", "missing", "distinct", "summary"],
                data_rows,
            ),
            ("Features (signature)", ["feature", "type", "values"], feature_rows),
        ]
        if view_rows:
            sections.append(("Feature views", ["view", "version", "fingerprint"], view_rows))
        sections += [
            ("Metrics", ["metric", "meaning", "value", "std", "folds", "source"], metric_rows),
            ("Parameters", ["parameter", "value"], param_rows),
        ]
        if tuning_rows:
            sections.append(("Tuning study", ["field", "value"], tuning_rows))
        sections += [
            ("Measured cost", ["measure", "value"], cost_rows),
            ("Requirements (pinned)", None, [[r] for r in self.requirements]),
        ]
        if self.contract:
            sections.append(("Data contract", None, [[self.contract]]))
        return sections

    def to_markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = [f"# Model card: {self.name} v{self.version}", ""]
        if self.ui_url:
            lines += [f"[Open in MLflow]({self.ui_url})", ""]
        for title, header, rows in self._sections():
            lines += [f"## {title}", ""]
            if header is None:
                if title == "Overview":
                    lines += [f"- **{k}**: {cell(v)}" for k, v in rows]
                else:
                    lines += [f"- {cell(r[0])}" for r in rows]
            elif rows:
                lines.append("| " + " | ".join(header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
            else:
                lines.append("_none recorded_")
            lines.append("")
        return "\n".join(lines)

    def to_html(self) -> str:
        e = html.escape
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>Model card: {e(self.name)} v{self.version}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;"
            "color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
            "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;"
            "vertical-align:top}th{background:#f3f3f3}h2{margin-top:1.5em}</style>",
            "</head><body>",
            f"<h1>Model card: {e(self.name)} v{self.version}</h1>",
        ]
        if self.ui_url:
            parts.append(f"<p><a href='{e(self.ui_url)}'>Open in MLflow</a></p>")
        for title, header, rows in self._sections():
            parts.append(f"<h2>{e(title)}</h2>")
            if header is None and title == "Overview":
                parts.append("<table>")
                parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows]
                parts.append("</table>")
            elif header is None:
                parts.append("<ul>" + "".join(f"<li>{e(r[0])}</li>" for r in rows) + "</ul>")
            elif rows:
                parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
                parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
                parts.append("</table>")
            else:
                parts.append("<p><em>none recorded</em></p>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``model_card.md``, ``model_card.html`` and ``model_card.json`` into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / file for file in CARD_FILES]
        paths[0].write_text(self.to_markdown(), encoding="utf-8")
        paths[1].write_text(self.to_html(), encoding="utf-8")
        paths[2].write_text(json.dumps(self.to_dict(), indent=2, default=str), encoding="utf-8")
        return paths


def feature_rows(signature: Any) -> list[dict[str, Any]]:
    """The signature's inputs as card rows."""
    return [
        {
            "name": spec.name,
            "type": str(getattr(spec.type, "name", spec.type)),
            "optional": not spec.required,
        }
        for spec in signature.inputs.inputs
    ]


def metric_entry(values: float | Sequence[float], source: str) -> dict[str, Any]:
    """``{"value", "std", "folds", "source"}`` from one value or per-fold values."""
    import numpy as np

    if isinstance(values, numbers.Real) or not isinstance(values, Iterable):
        return {"value": float(values), "std": None, "folds": None, "source": source}
    folds = [float(v) for v in values]
    return {
        "value": float(np.mean(folds)),
        "std": float(np.std(folds)),
        "folds": folds,
        "source": source,
    }


def card_of(
    name: str,
    version: int | str | None = None,
    *,
    alias: str = "champion",
    settings: Settings | None = None,
) -> ModelCard:
    """The model card of a registered version (by number, else by alias).

    Raises:
        ModelError: No such version, or it has no card (not packaged by the workbench).
    """
    found = VersionArtifacts.of(name, version, alias=alias, settings=settings)
    record = found.model_card_path
    if record is None:
        raise ModelError(
            f"Version {found.version} of {name!r} has no model card (not packaged by workbench)."
        )
    return ModelCard(**json.loads(record.read_text(encoding="utf-8")))
