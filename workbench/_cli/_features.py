"""``workbench features``: register and materialize the project's feature views."""

from __future__ import annotations

import argparse

from workbench._cli._common import AddCommand, project_settings

__all__ = ["register"]


def _cmd_features(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.features import FeatureStore

    store = FeatureStore(settings=project_settings(args), definitions=args.definitions)
    if args.action == "list":
        views = store.list_views()
        with pd.option_context("display.width", 120, "display.max_columns", None):
            print(views.to_string(index=False) if len(views) else "no feature views registered")
        return 0
    if args.action == "apply":
        for record in store.apply(args.views or None):
            print(
                f"{record['definition']['name']}: version {record['version']} "
                f"({record['reason']}), fingerprint {record['fingerprint'][:12]}"
            )
        return 0
    for name in args.views or sorted(store.views):
        run = store.materialize(name, args.start, args.end)
        print(
            f"{name} v{run['version']}: {run['rows']} rows for {run['start']} .. {run['end']} "
            f"({len(run['months'])} months), {run['rejected']} rejected, "
            f"{run['superseded']} superseded"
            + (f" → {run['rejected_path']}" if run["rejected_path"] else "")
        )
        if args.online:
            loaded = store.materialize_online(name)
            print(f"{name} v{loaded['version']}: {loaded['rows']} keys online")
    return 0


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    features = add(
        "features",
        "register and materialize the project's feature views",
        "Work with the feature views declared in the project's features.py:\n"
        "  list         registered views: version, runs, online version\n"
        "  apply        register a version of each view (new definition or source data)\n"
        "  materialize  compute and store the views' features for a time range\n"
        "               (rows already stored for the range are replaced, never doubled)",
    )
    features.add_argument("action", choices=("list", "apply", "materialize"))
    features.add_argument("views", nargs="*", metavar="VIEW", help="views (default: all)")
    features.add_argument("--start", help="first event time to materialize (default: earliest)")
    features.add_argument("--end", help="last event time, inclusive (default: latest)")
    features.add_argument(
        "--online", action="store_true", help="also load the latest values into the online store"
    )
    features.add_argument(
        "--definitions",
        metavar="FILE",
        help="feature definitions file (default: features.py in the project folder)",
    )
    features.set_defaults(func=_cmd_features)
