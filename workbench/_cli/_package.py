"""``workbench package`` (verify, document, register a fitted model) and ``workbench
promote`` (move @champion if the challenger is not worse)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._cli._common import AddCommand, project_settings
from workbench._exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register"]


def _read_table(path: str, what: str) -> pd.DataFrame:
    import pandas as pd

    from workbench._exceptions import DataError

    file = Path(path)
    if not file.is_file():
        raise DataError(f"The {what} file {path} does not exist.")
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(file)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(file)
    raise DataError(f"The {what} file {path} must be Parquet (.parquet) or CSV (.csv).")


def _load_model(reference: str) -> Any:
    """An MLflow model URI (scikit-learn flavor), else the user's own joblib/pickle file."""
    from workbench._exceptions import ModelError
    from workbench._imports import require

    if reference.startswith(("runs:/", "models:/")) or "://" in reference:
        mlflow_sklearn = require("mlflow.sklearn", feature="model packaging")
        try:
            return mlflow_sklearn.load_model(reference)
        except Exception as exc:
            raise ModelError(f"Cannot load a scikit-learn model from {reference}: {exc}") from exc
    file = Path(reference)
    if file.is_dir() and (file / "MLmodel").is_file():
        return require("mlflow.sklearn").load_model(str(file))
    if not file.is_file():
        raise ModelError(
            f"{reference} is neither an MLflow model URI (runs:/..., models:/...) nor a file."
        )
    if file.suffix.lower() not in (".joblib", ".pkl", ".pickle"):
        raise ModelError(f"{reference}: a model file must be .joblib, .pkl or .pickle.")
    joblib = require("joblib")
    return joblib.load(file)  # the user's own file, named on their own command line


def _cmd_package(args: argparse.Namespace) -> int:
    from workbench._tracking import mlflow_for
    from workbench.packaging import package_model, promote

    settings = project_settings(args)
    if args.promote and (not args.holdout or not args.target):
        raise ConfigurationError("--promote needs --holdout and --target.")
    mlflow_for(settings)
    model = _load_model(args.model)
    data = _read_table(args.data, "data")
    holdout = _read_table(args.holdout, "holdout") if args.holdout else None
    packaged = package_model(
        model,
        data,
        args.name,
        target=args.target,
        alias=args.alias,
        description=args.description or "",
        run_id=args.run_id,
        contract=args.contract,
        holdout=holdout,
        measure_cost=not args.no_cost,
        settings=settings,
    )
    cost = packaged.card.cost
    print(
        f"{packaged.name} version {packaged.version} registered as @{packaged.alias}\n"
        f"  serialization  {packaged.serialization.reason}\n"
        f"  verified       loaded in a fresh process, identical predictions on the example\n"
        + (
            f"  cost           {cost['single_row_ms']:.2f} ms per row, "
            f"{cost['predictions_per_second']:,.0f} predictions/s in 1,000-row batches\n"
            if cost.get("single_row_ms") is not None
            else ""
        )
        + f"  model card     {packaged.card_uri}\n"
        f"  MLflow UI      {packaged.ui_url}"
    )
    if args.promote and holdout is not None and args.target:
        outcome = promote(
            packaged.name,
            holdout,
            target=args.target,
            challenger=args.alias,
            metric=args.metric,
            force=args.force,
            settings=settings,
        )
        print(f"promoted version {outcome.version} to @champion: {outcome.reason}")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    from workbench.packaging import promote

    settings = project_settings(args)
    outcome = promote(
        args.name,
        _read_table(args.holdout, "holdout"),
        target=args.target,
        challenger=args.challenger,
        champion=args.champion,
        metric=args.metric,
        force=args.force,
        settings=settings,
    )
    print(f"{args.name}: version {outcome.version} is now @{args.champion} ({outcome.reason})")
    return 0


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    package = add(
        "package",
        "package a fitted model: verify, document, register",
        "Log MODEL to MLflow with a signature, an input example and pinned requirements\n"
        "(skops with the pipeline's scikit-learn types trusted, else cloudpickle with the\n"
        "reason recorded), load it back in a fresh process and check its predictions,\n"
        "measure fit time and prediction latency, and register a new version with a model\n"
        "card, the reference data and the data contract. Nothing is registered if any step\n"
        "fails.\n\n"
        "MODEL is an MLflow URI (runs:/<run>/best_model from `tune`, models:/name/3) or a\n"
        "fitted scikit-learn pipeline saved with joblib (.joblib, .pkl): only load files\n"
        "you trust, a pickle runs code when it is loaded.",
    )
    package.add_argument("model", metavar="MODEL", help="MLflow model URI or .joblib file")
    package.add_argument(
        "--data", required=True, metavar="FILE", help="training rows (.parquet or .csv)"
    )
    package.add_argument("--name", required=True, help="registered model name")
    package.add_argument("--target", help="target column of --data (for fit time and holdout)")
    package.add_argument("--alias", default="challenger", help="alias (default challenger)")
    package.add_argument("--description", help="what the model is for (on the model card)")
    package.add_argument("--holdout", metavar="FILE", help="rows to score the model on")
    package.add_argument("--contract", metavar="YAML", help="data contract to store with it")
    package.add_argument("--run-id", help="MLflow run to log under (default: a new run)")
    package.add_argument(
        "--no-cost", action="store_true", help="skip measuring fit time and latency"
    )
    package.add_argument(
        "--promote",
        action="store_true",
        help="then promote it to @champion if not worse on --holdout",
    )
    package.add_argument("--metric", help="holdout metric for --promote (rmse, mae, accuracy…)")
    package.add_argument("--force", action="store_true", help="promote even if worse")
    package.set_defaults(func=_cmd_package)

    prom = add(
        "promote",
        "move @champion to the @challenger if it is not worse on a holdout",
        "Score the @challenger and @champion versions of NAME on the same holdout rows and\n"
        "move @champion to the challenger unless it scores worse (then nothing changes and\n"
        "the command fails, saying both scores). The old champion keeps @previous_champion.",
    )
    prom.add_argument("name", metavar="NAME", help="registered model name")
    prom.add_argument(
        "--holdout", required=True, metavar="FILE", help="rows with the target (.parquet/.csv)"
    )
    prom.add_argument("--target", required=True, help="target column of the holdout")
    prom.add_argument(
        "--metric",
        help="rmse, mae, mape, r2 (regression); accuracy, f1_macro, f1_binary, "
        "precision_/recall_ binary or macro (classification)",
    )
    prom.add_argument("--challenger", default="challenger", help="alias to promote")
    prom.add_argument("--champion", default="champion", help="alias to move")
    prom.add_argument("--force", action="store_true", help="promote even if worse")
    prom.set_defaults(func=_cmd_promote)
