"""One call from a fitted pipeline to a verified, documented, registered model version.

``package_model`` is the orchestration, one page: check what is packaged, infer the
signature, log the model with requirements pinned from the installed versions, check it
in a fresh process while the card's contents are gathered, log the reference artifacts,
register the version with the tags :mod:`workbench._versions` reads back, measure its
cost, store the card, and only then point the alias at it. Each job is a module beside
this one: ``_inputs`` (checks, input example), ``_mlflow`` (run, logging, registry),
``_reference`` (reference artifacts), ``_card_contents`` (scores, cost, the card),
``_promote`` (promotion); pinning is :mod:`workbench._requirements`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workbench._exceptions import ModelError
from workbench._imports import require
from workbench._requirements import pinned_requirements
from workbench._settings import Settings, get_settings
from workbench._tracking import configured_ui_url, mlflow_for, ui_url
from workbench._urls import redact_text
from workbench._versions import (
    FEATURE_VIEWS,
    MODEL_CARD,
    REFERENCE,
    SERIALIZATION,
    SERIALIZATION_REASON,
    TAG_LIMIT,
    TUNING_STUDY,
    VERIFIED,
    artifact_folder,
    version_tags,
)
from workbench.packaging._card import ModelCard
from workbench.packaging._card_contents import build_card, card_metrics, measured_cost
from workbench.packaging._inputs import (
    batch_json,
    check_arguments,
    check_columns,
    first_predictions,
    input_columns,
    input_example,
    load_contract,
    masked,
    missing_module_hint,
    nullable_columns,
    refuse_workbench_parts,
)
from workbench.packaging._mlflow import (
    local_or_uri,
    log_model,
    new_run,
    register_version,
    unregister_version,
)
from workbench.packaging._model import task_of
from workbench.packaging._reference import log_reference_artifacts
from workbench.packaging._signature import Serialization, choose_serialization, infer_signature
from workbench.packaging._verifier import Verifier, replace_spare, spare_verifier

if TYPE_CHECKING:
    import pandas as pd

    from workbench.data import Contract

__all__ = ["PackagedModel", "package_model"]

_log = logging.getLogger(__name__)
_STEPS = 6


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    """A registered, verified model version.

    Attributes:
        name: Registered model name.
        version: Version number in the registry.
        alias: Alias that now points at this version.
        run_id: The run the model was logged under.
        model_uri: ``models:/<name>@<alias>``.
        version_uri: ``models:/<name>/<version>`` (stays put when the alias moves).
        logged_model_uri: The logged model (``models:/m-...``).
        serialization: The format chosen and why.
        card: The model card (also stored with the run, as Markdown, HTML and JSON).
        card_uri: Where the card's HTML lives (``runs:/<run>/packages/...``).
        reference_uri: The reference data monitoring compares production against.
        ui_url: The version's page in the MLflow UI.
        seconds: Wall time of the packaging, and of the cost measurement within it.
    """

    name: str
    version: int
    alias: str
    run_id: str
    model_uri: str
    version_uri: str
    logged_model_uri: str
    serialization: Serialization
    card: ModelCard
    card_uri: str
    reference_uri: str
    ui_url: str
    seconds: Mapping[str, float] = dataclasses.field(default_factory=dict)


class _Steps:
    """Progress through the packaging steps: a tqdm bar, a callback, or nothing."""

    def __init__(self, progress: bool | Callable[[int, int, str], None], name: str) -> None:
        self.callback = progress if callable(progress) else None
        self.bar = None
        if progress is True:
            tqdm = require("tqdm.auto").tqdm
            self.bar = tqdm(total=_STEPS, desc=f"packaging {name}", unit="step")
        self.done = 0

    def __call__(self, text: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update()
        if self.callback is not None:
            try:
                self.callback(self.done, _STEPS, text)
            except Exception:  # a broken progress callback must not break the packaging
                _log.exception("the progress callback failed at step %d", self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def package_model(
    model: Any,
    data: pd.DataFrame,
    name: str | None = None,
    *,
    target: str | None = None,
    alias: str = "challenger",
    description: str = "",
    run_id: str | None = None,
    experiment: str | None = None,
    reference: pd.DataFrame | None = None,
    contract: Contract | str | Path | None = None,
    metrics: Mapping[str, float | Sequence[float]] | None = None,
    holdout: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    tuning: Any = None,
    lineage: Mapping[str, Any] | None = None,
    fit_seconds: float | None = None,
    measure_cost: bool = True,
    code_paths: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    personal: Sequence[str] = (),
    progress: bool | Callable[[int, int, str], None] = True,
    settings: Settings | None = None,
) -> PackagedModel:
    """Log, verify, document and register a fitted pipeline; point ``alias`` at it.

    Steps: (1) predict on ``data`` and infer the signature (nullable integer and boolean
    columns declared optional doubles, so missing values pass schema enforcement);
    (2) log the model with skops and the pipeline's own scikit-learn/NumPy/SciPy types
    trusted, or cloudpickle with the reason recorded, an input example (first rows plus
    rows with missing values) and requirements pinned from the installed versions;
    (3) load it back with ``mlflow.pyfunc.load_model`` in a fresh Python process and
    check it predicts the input example identically, timing single-row and 1,000-row
    predictions there; (4) take the fit time (given, from the run, or by refitting a
    clone); (5) register a new version with tags and set ``alias``; (6) store the model
    card (Markdown, HTML, JSON), the reference data and the data contract with the run.
    A failure at any step raises with the reason and leaves no registered version.

    Args:
        model: A fitted scikit-learn estimator or pipeline (preprocessing included).
        data: Training rows: the model's input columns, and ``target`` if given.
        name: Registered model name (default: the ``model_name`` setting).
        target: The target column of ``data`` (for the card, and to measure fit time).
        alias: Alias for the new version (``challenger`` by default; see ``promote``).
        description: What the model is for; the card's purpose and the version's
            description.
        run_id: Run to log under (default: a new run ``package <name>``).
        experiment: Experiment for a new run (default: the ``experiment_name`` setting).
        reference: Data monitoring will compare production against (default: ``data``).
        contract: Data contract (object or YAML path), stored with the model; its
            nullable columns are optional in the signature, its personal columns are
            never shown on the card.
        metrics: Scores to show: a value, or per-fold values (mean and spread shown).
        holdout: Rows with ``target`` to score the model on for the card.
        params: Extra parameters to show on the card.
        tuning: A ``TuningResult``: the study is linked and its best trial's fold scores
            shown.
        lineage: The feature-store lineage of the training set (default:
            ``data.attrs["lineage"]``, which ``get_historical_features`` sets): views and
            versions go on the card and in the version's tags.
        fit_seconds: How long training took (else taken from the run's ``fit_seconds``
            metric, else measured by refitting a clone on ``data``).
        measure_cost: Measure latency and fit time (turn off for the fastest package).
        code_paths: Local modules the model needs to load (MLflow ``code_paths``).
        tags: Extra tags of the model version.
        personal: Personal columns besides those the contract marks: left out of the
            stored reference data and the card, and replaced in the input example.
        progress: A tqdm bar (``True``), nothing (``False``), or
            ``callback(step, total, text)``.
        settings: Settings to use (default: the process-wide ones).

    Returns:
        A :class:`PackagedModel`.

    Raises:
        DataError: ``data`` is empty or lacks the model's columns or ``target``.
        ConfigurationError: ``name`` is not one plain name (``/``, ``\\``, ``:``, ``..``).
        ModelError: The model cannot predict on ``data``, cannot be logged, or fails the
            fresh-process check; nothing is registered.
    """

    began = time.perf_counter()
    s = settings or get_settings()
    name = name or s.model_name
    check_arguments(name, data, target=target, holdout=holdout, alias=alias)
    verifier = spare_verifier(take=True)  # it imports MLflow while we log
    assert verifier is not None
    steps: _Steps | None = None
    try:
        steps = _Steps(progress, name)
        mlflow = mlflow_for(s)
        client = mlflow.MlflowClient()
        the_contract = load_contract(contract)
        features = input_columns(model, data, target)
        x = data[features]
        personal = sorted({*(the_contract.pii_columns if the_contract else []), *personal})
        check_columns(x)
        # the example is shown in MLflow's UI: no personal value of a real row goes in it
        example = masked(input_example(x), personal, x)
        predictions, expected = first_predictions(model, x, example, name=name, personal=personal)
        signature = infer_signature(x, predictions, nullable_columns(the_contract, features))
        task = task_of(model)
        steps("signature inferred")

        # 1. log: serialization chosen on purpose, pinned requirements
        serialization = choose_serialization(model)
        refuse_workbench_parts(name, serialization)
        if run_id is None:
            run_id = new_run(client, model, name, experiment or s.experiment_name, s)
        loader = ["skops"] if serialization.format == "skops" else []
        requirements = pinned_requirements(modules=[*serialization.modules, *loader])
        info = log_model(
            mlflow,
            run_id,
            model,
            signature=signature,
            example=example,
            requirements=requirements,
            serialization=serialization,
            code_paths=code_paths,
        )
        logged_seconds = time.perf_counter() - began
        steps(f"logged ({serialization.format})")

        # 2. the fresh process loads and checks it while we gather the card's contents
        verifier.send(
            {
                "tracking_uri": s.tracking_uri,
                "model_uri": local_or_uri(client, info),
                "expected": expected.tolist() if hasattr(expected, "tolist") else list(expected),
                "batch_json": batch_json(x) if measure_cost else None,
            }
        )
        run_metrics = client.get_run(run_id).data.metrics
        scores, tuning_info = card_metrics(
            model,
            run_metrics=run_metrics,
            given=metrics,
            tuning=tuning,
            holdout=holdout,
            features=features,
            target=target,
            task=task,
            settings=s,
        )
        lineage = (lineage or data.attrs.get("lineage") or {}).get("views", {})
        folder = artifact_folder(name, info.model_id)
        checked = _fresh_process_check(verifier, client, run_id, name, info, s)
        scores_logged = log_reference_artifacts(
            client,
            run_id,
            folder,
            model,
            reference if reference is not None else data,
            features=features,
            personal=personal,
            holdout=holdout,
            target=target,
            task=task,
            contract=the_contract,
        )
        steps("verified in a fresh process")

        # 3. register (no alias yet), with every tag in one call
        tags_written = {
            **version_tags(
                run_id,
                folder,
                task=task,
                target=target,
                features=features,
                contract=the_contract is not None,
                reference_scores=scores_logged,
            ),
            SERIALIZATION: serialization.format,
            SERIALIZATION_REASON: serialization.reason[:TAG_LIMIT],
            VERIFIED: "loaded in a fresh process; identical predictions on the input example",
            **(
                {FEATURE_VIEWS: ",".join(f"{v}@{d['version']}" for v, d in lineage.items())}
                if lineage
                else {}
            ),
            **({TUNING_STUDY: tuning.study_name} if tuning is not None else {}),
            **{k: str(v) for k, v in (tags or {}).items()},
        }
        version, created_model = register_version(
            client, name, info, run_id, tags_written, description
        )
        try:
            steps(f"version {version} registered")
            # 4. cost: the fresh process's timings, and the fit time
            measure_began = time.perf_counter()
            cost = measured_cost(
                model,
                checked,
                verifier.receive() if measure_cost else None,
                fit_seconds=fit_seconds,
                run_metrics=run_metrics,
                run_id=run_id,
                x=x,
                y=data[target] if target is not None else None,
                measure=measure_cost,
            )
            measure_seconds = time.perf_counter() - measure_began
            steps("cost measured")

            # 5. the card, then the alias (last: everything it points at exists)
            page = f"#/models/{quote(name)}/versions/{version}"
            link = ui_url(s, page)
            card = build_card(
                model,
                data,
                name=name,
                version=version,
                alias=alias,
                description=description,
                task=task,
                run_id=run_id,
                # the card links MLflow only where a UI address is configured: it travels,
                # and 127.0.0.1:5000 elsewhere is another machine's port or nothing
                link=configured_ui_url(s, page),
                target=target,
                features=features,
                signature=signature,
                lineage=lineage,
                metrics=scores,
                params=params,
                tuning=tuning_info,
                cost=cost,
                serialization=serialization,
                requirements=requirements,
                contract=the_contract,
                personal=personal,
            )
            _log_card(client, run_id, folder, card)
            client.set_registered_model_alias(name, alias, str(version))
        except BaseException as exc:  # an interrupt too: no version without card and alias
            unregister_version(client, name, version, created_model)
            if not isinstance(exc, Exception):
                raise
            raise ModelError(
                f"Registering {name!r} version {version} failed ({type(exc).__name__}: {exc}); "
                f"the version was removed, nothing is half-registered."
            ) from exc
        steps(f"card stored, @{alias} → v{version}")
    finally:
        if steps is not None:
            steps.close()
        verifier.close()
        replace_spare()
    total = time.perf_counter() - began
    _log.info("registered %s version %s as @%s in %.2f s", name, version, alias, total)
    return PackagedModel(
        name=name,
        version=version,
        alias=alias,
        run_id=run_id,
        model_uri=f"models:/{name}@{alias}",
        version_uri=f"models:/{name}/{version}",
        logged_model_uri=info.model_uri,
        serialization=serialization,
        card=card,
        card_uri=tags_written[MODEL_CARD],
        reference_uri=tags_written[REFERENCE],
        ui_url=link,
        seconds={
            "total": total,
            "until_logged": logged_seconds,
            "cost_measurement": measure_seconds,
        },
    )


def _fresh_process_check(
    verifier: Verifier, client: Any, run_id: str, name: str, info: Any, s: Settings
) -> dict[str, Any]:
    """The fresh process's answer on loading the model and predicting its input example;
    a failure is recorded on the run and raised (nothing is registered yet)."""
    checked = verifier.receive()
    if not checked.get("ok"):
        reason = redact_text(str(checked.get("reason")), s.tracking_uri)
        client.set_tag(run_id, "workbench.package_error", reason[:TAG_LIMIT])
        raise ModelError(
            f"Model {name!r} failed its check in a fresh process "
            f"(mlflow.pyfunc.load_model of {info.model_uri} and a prediction of its "
            f"input example): {reason}. Nothing was registered." + missing_module_hint(reason)
        )
    return checked


def _log_card(client: Any, run_id: str, folder: str, card: ModelCard) -> None:
    """The card's Markdown, HTML and JSON into the version's folder of the run."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        card.save(tmp)
        client.log_artifacts(run_id, tmp, artifact_path=folder)
