"""Packaging's widgets: ``PackageButton`` packages, verifies and registers a model with one
click in a notebook; ``CardViewer`` shows the model card of any registered version, in a
notebook or under Voilà."""

from __future__ import annotations

import dataclasses
import html
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workbench._display import figure_output, widget_bundle
from workbench._exceptions import WorkbenchError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench.packaging._figures import (
    aliases_by_version,
    card_header_html,
    card_sections_html,
    card_tail_html,
    contract_of,
    cost_figure,
    metrics_figure,
    version_label,
)

if TYPE_CHECKING:
    import pandas as pd

    from workbench.packaging._register import PackagedModel

__all__ = ["CardViewer", "PackageButton"]


def _result_html(packaged: PackagedModel) -> str:
    e = html.escape
    card = packaged.card
    metrics = ", ".join(
        f"{e(k)} {v['value']:.4g}" + (f" ± {v['std']:.2g}" if v.get("std") is not None else "")
        for k, v in list(card.metrics.items())[:6]
    )
    cost = card.cost
    latency = (
        f"{cost['single_row_ms']:.2f} ms per row, {cost['predictions_per_second']:,.0f} "
        f"predictions/s"
        if cost.get("single_row_ms") is not None and cost.get("predictions_per_second")
        else "not measured"
    )
    return (
        f"<div style='line-height:1.6'>✅ Registered <b>{e(packaged.name)}</b> version "
        f"<b>{packaged.version}</b> as <code>@{e(packaged.alias)}</code> "
        f"(<a href='{e(packaged.ui_url)}' target='_blank' rel='noopener'>open in MLflow</a>)"
        f"<br>Verified in a fresh process; {e(packaged.serialization.format)}: "
        f"{e(packaged.serialization.reason)}<br>Metrics: {metrics or '—'}<br>"
        f"Cost: {latency}<br>Model card: <code>{e(packaged.card_uri)}</code></div>"
    )


class PackageButton:
    """Fields for name, alias and description, a button, progress, and the result.

    A click packages ``model`` with :func:`workbench.packaging.package_model` in a
    background thread (the kernel stays free): log, check in a fresh process, measure,
    register, and show the version with a link to its MLflow page. A failure is shown
    with its reason; nothing is half-registered. Creating the widget warms the
    fresh-process checker, so the click does not wait for Python to start.

    Args:
        model: A fitted scikit-learn pipeline.
        data: Training rows (inputs, and ``target`` if given).
        target: Target column of ``data``.
        name: Initial registered model name (default: the ``model_name`` setting).
        alias: Initial alias (default ``challenger``).
        description: Initial description.
        settings: Settings to use.
        **package_options: Passed on to ``package_model`` (``holdout``, ``tuning``,
            ``contract``, ``metrics``, ``run_id``, ...).

    Attributes:
        result: The :class:`PackagedModel` of the last successful click.
        error: The error message of the last failed click.
    """

    def __init__(
        self,
        model: Any,
        data: pd.DataFrame,
        *,
        target: str | None = None,
        name: str | None = None,
        alias: str = "challenger",
        description: str = "",
        settings: Settings | None = None,
        **package_options: Any,
    ) -> None:
        widgets = require("ipywidgets", feature="notebook widgets")
        from workbench.packaging._verifier import spare_verifier

        self._model = model
        self._data = data
        self._target = target
        self._settings = settings or get_settings()
        self._options: Mapping[str, Any] = package_options
        self.result: PackagedModel | None = None
        self.error: str | None = None
        self._done = threading.Event()
        self._done.set()
        self._thread: threading.Thread | None = None

        self.name = widgets.Text(value=name or self._settings.model_name, description="Name")
        self.alias = widgets.Combobox(
            value=alias,
            options=["challenger", "staging"],  # @champion moves only through promote()
            description="Alias",
            ensure_option=False,
        )
        self.description = widgets.Textarea(
            value=description, description="Description", placeholder="What is it for?"
        )
        self.button = widgets.Button(
            description="Package and register", button_style="primary", icon="archive"
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=6, description="")
        self.status = widgets.Label(value="ready")
        self.output = widgets.HTML(value="")
        self.button.on_click(self._on_click)
        self.widget = widgets.VBox(
            [
                self.name,
                self.alias,
                self.description,
                widgets.HBox([self.button, self.progress, self.status]),
                self.output,
            ]
        )
        spare_verifier()  # warm the fresh-process checker while the user types

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_click(self, _button: Any = None) -> None:
        if not self._done.is_set():
            return
        name = self.name.value.strip()
        alias = self.alias.value.strip()
        if not name or not alias:
            self._fail("Give the model a name and an alias.")
            return
        self._done.clear()
        self.button.disabled = True
        self.progress.value = 0
        self.progress.bar_style = ""
        self.status.value = "starting"
        self.output.value = ""
        self._thread = threading.Thread(
            target=self._run, args=(name, alias, self.description.value), daemon=True
        )
        self._thread.start()

    def click(self) -> None:
        """Press the button (as a person would)."""
        self.button.click()

    def _step(self, done: int, total: int, text: str) -> None:
        self.progress.max = total
        self.progress.value = done
        self.status.value = text

    def _run(self, name: str, alias: str, description: str) -> None:
        from workbench.packaging._register import package_model

        try:
            self.result = package_model(
                self._model,
                self._data,
                name,
                target=self._target,
                alias=alias,
                description=description,
                progress=self._step,
                settings=self._settings,
                **self._options,
            )
            self.error = None
            self.progress.bar_style = "success"
            self.status.value = f"v{self.result.version} @{alias}"
            self.output.value = _result_html(self.result)
        except WorkbenchError as exc:
            self._fail(str(exc))
        except Exception as exc:  # shown, not lost in a thread
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            self.button.disabled = False
            self._done.set()

    def _fail(self, message: str) -> None:
        self.error = message
        self.progress.bar_style = "danger"
        self.status.value = "failed"
        self.output.value = f"<div style='color:#b00020'>❌ {html.escape(message)}</div>"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current click's work ends; ``False`` on timeout."""
        return self._done.wait(timeout)


class CardViewer:
    """Pick a registered version of ``name``; its card is drawn: the version's aliases as
    they are now, key figures, metrics as small multiples with their spread over folds,
    the data contract as a table, the training data, features, parameters, tuning study,
    measured cost and pinned requirements. A link to MLflow appears only where the
    settings name a UI address (``mlflow_ui_url``, or a tracking server).

    Args:
        name: The registered model.
        alias: The version shown first.
        settings: Settings (default: the process-wide ones).

    Raises:
        ModelError: The registry has no model ``name``.
    """

    def __init__(self, name: str, *, alias: str = "champion", settings: Settings | None = None):
        from workbench._exceptions import ModelError
        from workbench._tracking import mlflow_for

        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.settings = settings or get_settings()
        mlflow = mlflow_for(self.settings)
        client = mlflow.MlflowClient()
        found = client.search_model_versions(f"name = '{name}'")
        if not found:
            raise ModelError(
                f"No registered model {name!r} at {self.settings.tracking_uri}. Package one "
                f"with `workbench package` or run `workbench demo`."
            )
        # the aliases as they are now (a version's search result may not carry them)
        self.aliases = aliases_by_version(client, name)
        versions = sorted({int(v.version) for v in found}, reverse=True)
        options = [(version_label(v, self.aliases.get(v, ())), str(v)) for v in versions]
        first = next(
            (str(v) for v in versions if alias in self.aliases.get(v, ())), str(versions[0])
        )
        self.name = name
        self.picker = widgets.Dropdown(
            options=options,
            value=first,
            description="version",
            layout=widgets.Layout(width="min(100%, 320px)"),
        )
        # a card reads as a document: on a wide screen it keeps a laptop's width, so its
        # metric panels and tables are not stretched across 1,900 px
        full = widgets.Layout(width="100%", max_width="1280px")
        # widgets have a 2 px margin: at width 100% they would stick out by 4 px; an
        # Output box takes its content's width, so it goes without the margin instead
        flush = widgets.Layout(margin="0")
        self.header = widgets.HTML()
        self.figures = widgets.Output(layout=flush)
        self.sections = widgets.HTML()
        self.costs = widgets.Output(layout=flush)
        self.tail = widgets.HTML()
        self.picker.observe(lambda change: self._draw(change["new"]), names="value")
        self._draw(first)
        self.widget = widgets.VBox(
            [self.picker, self.header, self.figures, self.sections, self.costs, self.tail],
            layout=full,
        )

    def _draw(self, version: str) -> None:
        from workbench._tracking import configured_ui_url
        from workbench._versions import VersionArtifacts
        from workbench.packaging._card import card_of

        # the version picked, as the registry numbers it (a copied version carries the
        # card of the one it was copied from)
        self.card = dataclasses.replace(
            card_of(self.name, version, settings=self.settings), version=int(version)
        )
        found = VersionArtifacts.of(self.name, version, settings=self.settings)
        contract = contract_of(found)
        link = configured_ui_url(
            self.settings, f"#/models/{quote(self.name)}/versions/{self.card.version}"
        )
        aliases = self.aliases.get(int(version), ())
        self.metrics_figure = metrics_figure(self.card)
        self.cost_figure = cost_figure(self.card)
        self.header.value = card_header_html(self.card, aliases, link)
        self.sections.value = card_sections_html(self.card, contract, link)
        self.tail.value = card_tail_html(self.card)
        figure_output(self.figures, self.metrics_figure)
        figure_output(self.costs, self.cost_figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, **kwargs)
