"""``workbench monitor`` (the scheduled monitor: what arrived since the last run, alerts
delivered) and ``workbench retrain`` (the champion refitted up to a date, as
@challenger)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import Any

from workbench._cli._common import AddCommand, project_settings
from workbench._exceptions import ConfigurationError

__all__ = ["register"]


def _threshold(text: str) -> tuple[str, tuple[str, float]]:
    """``mae:max:150`` → ``("mae", ("max", 150.0))``."""
    parts = text.split(":")
    if len(parts) != 3 or parts[1] not in ("max", "min"):
        raise argparse.ArgumentTypeError(
            f"a threshold is METRIC:max:BOUND or METRIC:min:BOUND (mae:max:150); got {text!r}"
        )
    try:
        return parts[0], (parts[1], float(parts[2]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"the bound of {text!r} is not a number") from None


def _trials(text: str) -> int:
    """``--tune N``: a whole number of trials, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"--tune takes a number of trials (0 or more); got {text!r}"
        )
    return value


def _shown(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cmd_monitor(args: argparse.Namespace) -> int:
    from workbench._secrets import read_secret
    from workbench.monitoring import (
        Notifier,
        WebhookReceiver,
        actions_from_settings,
        notifier_from_settings,
        run_monitor,
    )

    settings = project_settings(args)
    actions = [] if args.no_actions else actions_from_settings(settings)
    notifier = None if args.no_notify else notifier_from_settings(settings)
    urls = list(args.webhook or [])
    for variable in args.webhook_env or []:  # a Slack or Teams URL is a secret
        url = read_secret(variable)
        if not url:
            raise ConfigurationError(f"--webhook-env {variable}: ${variable} is not set.")
        urls.append(url)
    if urls and not args.no_notify:
        hooks = [WebhookReceiver(url, format=args.webhook_format) for url in urls]
        notifier = Notifier([*(notifier.receivers if notifier else []), *hooks])
    result = run_monitor(
        args.model,
        alias=args.alias,
        log_dir=args.log_dir,
        period=args.period,
        thresholds=dict(args.threshold or []) or None,
        integrity_share=args.integrity_share,
        min_rows=args.min_rows,
        notifier=notifier,
        actions=actions,
        cluster=args.cluster,
        n_workers=args.workers,
        settings=settings,
    )
    failed = any(o.state != "done" for o in result.actions)
    if args.json:
        table = result.periods.assign(window=result.periods["window"].astype(str))
        print(
            json.dumps(
                {
                    "model": result.model_name,
                    "version": result.version,
                    "run": result.run,
                    "new_rows": result.new_rows,
                    "new_actuals": result.new_actuals,
                    "periods": table.to_dict("records"),
                    "alerts": [a.__dict__ for a in result.alerts],
                    "deliveries": [d.__dict__ for d in result.deliveries],
                    "actions": [dataclasses.asdict(o) for o in result.actions],
                },
                default=str,
                indent=1,
            )
        )
        return 4 if failed else 0
    head, _, tail = result.summary().partition("; alerts")
    print(head + "\n  alerts" + tail)  # two lines: each fits an 80-column terminal
    frame = result.periods.tail(args.last).copy()
    if "share_drifted" in frame:  # a share a person reads: "29 %"
        frame["share_drifted"] = [
            "–" if v is None or v != v else f"{v:.0%}".replace("%", " %")
            for v in frame["share_drifted"]
        ]
    shown = [
        c for c in ("rows", "share_drifted", "drifted", "integrity_rows", "labelled") if c in frame
    ]
    metrics = [c for c in frame.columns if c not in (*shown, "window", "requests", "dataset_drift")]
    header = ["period", *shown, *metrics]
    rows = [
        [str(row["window"].date()), *(_shown(row[c]) for c in shown + metrics)]
        for _, row in frame.iterrows()
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)] if rows else []
    if rows:
        print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    for alert in result.alerts:
        print(f"ALERT {alert.metric}: {alert.reason}")
    for sent in result.deliveries:
        outcome = "sent" if sent.ok else f"FAILED after {sent.attempts} tries: {sent.error}"
        print(f"{sent.event} {sent.metric} → {sent.receiver}: {outcome}")
    for done in result.actions:
        print(done.line())
    if failed:
        print(
            "  this run's results are recorded; the action is not tried again until its\n"
            "  alert clears and fires anew (workbench retrain runs it by hand)"
        )  # the results are recorded; the schedule should still show the failure
        return 4
    if args.fail_on_alert and result.alerts:
        return 3
    return 0


def _cmd_retrain(args: argparse.Namespace) -> int:
    from workbench.packaging import promote, retrain

    settings = project_settings(args)
    if args.backtest_days < 1:
        raise ConfigurationError(f"--backtest-days must be at least 1; got {args.backtest_days}.")
    if args.since_days is not None and args.since_days < 1:
        raise ConfigurationError(f"--since-days must be at least 1; got {args.since_days}.")
    done = retrain(
        args.model,
        labels=args.labels,
        until=args.until,
        since=args.since,
        since_days=args.since_days,
        backtest_days=args.backtest_days,
        time_column=args.time_column,
        metric=args.metric,
        measure_cost=not args.no_cost,
        tune=args.tune,
        cluster=args.cluster,
        n_workers=args.workers,
        settings=settings,
    )
    print(done.summary())
    if done.tuning is not None:
        print(f"  study          {done.tuning.study_name} ({done.tuning.n_complete} trials)")
    print(f"  model card     {done.model.card_uri}")
    print(
        "  backtest       " + done.scores.round(4).to_string().replace("\n", "\n                 ")
    )
    if args.promote:
        outcome = promote(
            done.model.name,
            done.backtest,
            target=done.model.card.target or "",
            metric=done.metric,
            settings=settings,
        )
        print(f"promoted version {outcome.version} to @champion: {outcome.reason}")
    return 0


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``workbench`` parser."""
    mon = add(
        "monitor",
        "one scheduled monitor run: new log rows and actuals → results, alerts",
        "Read the inference-log rows and actuals that arrived since the last run (its\n"
        "checkpoint is under the monitoring folder), compute drift, integrity and\n"
        "performance per period (realized where actuals exist, estimated for a classifier\n"
        "where not), record them in MLflow and for the dashboard, and evaluate the alert\n"
        "rules on the latest period of the model's @champion. Alerts go to the receivers of\n"
        "[tool.workbench.alerts] (and --webhook): fired once, repeated while they hold,\n"
        "resolved when they clear. Safe to run from cron or a Kubernetes CronJob: a run\n"
        "stopped at any point and run again repeats nothing and skips nothing.\n"
        'An alert rule of [tool.workbench.alerts.rules] with action = "retrain" retrains\n'
        "the champion as @challenger when its alert fires (once per firing); exit status\n"
        "4 when such an action failed (the run's results are recorded all the same).",
    )
    mon.add_argument("--model", help="registered model name (default: the model_name setting)")
    mon.add_argument("--alias", default="champion", help="whose alerts (default champion)")
    mon.add_argument("--log-dir", help="inference log folder or URL (default: the setting)")
    mon.add_argument("--period", default="1D", help="period per result: 1h, 1D, 1W (default 1D)")
    mon.add_argument(
        "--threshold",
        action="append",
        type=_threshold,
        metavar="METRIC:max|min:BOUND",
        help="alert when a metric crosses its bound (mae:max:150); repeatable",
    )
    mon.add_argument(
        "--integrity-share",
        type=float,
        default=0.05,
        help="alert when this share of a period's rows breaks one contract rule (0.05)",
    )
    mon.add_argument("--min-rows", type=int, default=1, help="alerts skip smaller periods")
    mon.add_argument(
        "--cluster",
        help="read and count the new segments on a Dask cluster: local, or a scheduler "
        "tcp://host:port (default: in this process)",
    )
    mon.add_argument("--workers", type=int, help="worker processes of a local cluster")
    mon.add_argument("--webhook", action="append", metavar="URL", help="also post alerts here")
    mon.add_argument(
        "--webhook-env",
        action="append",
        metavar="VARIABLE",
        help="also post alerts to the URL in this environment variable (or VARIABLE_FILE)",
    )
    mon.add_argument(
        "--webhook-format", default="json", choices=("json", "slack", "teams"), help="body"
    )
    mon.add_argument("--no-notify", action="store_true", help="send no alert (a dry run)")
    mon.add_argument(
        "--no-actions",
        action="store_true",
        help="run no alert rule's action (retrain) of [tool.workbench.alerts.rules]",
    )
    mon.add_argument("--last", type=int, default=14, help="periods to print (default 14)")
    mon.add_argument("--json", action="store_true", help="print the result as JSON")
    mon.add_argument(
        "--fail-on-alert", action="store_true", help="exit with status 3 while an alert holds"
    )
    mon.set_defaults(func=_cmd_monitor)

    re = add(
        "retrain",
        "refit the champion up to a date and package it as @challenger",
        "Rebuild the training set from the feature store (the label rows of --labels joined\n"
        "point-in-time with the feature view versions the champion was trained on), refit\n"
        "the champion's pipeline on the rows before the last --backtest-days before\n"
        "--until, score it and the champion on those latest days, and package it as\n"
        "@challenger (verified, with its model card). --tune N runs a short Optuna study\n"
        "of N trials instead (the families and folds of the champion's study, else its\n"
        "family) on a Dask cluster and packages its best pipeline. --promote then moves\n"
        "@champion to it if it is not worse on the backtest rows.",
    )
    re.add_argument("--model", help="registered model name (default: the model_name setting)")
    re.add_argument(
        "--labels",
        required=True,
        metavar="FILE",
        help="rows with the entity keys, their date and the target (.parquet/.csv)",
    )
    re.add_argument(
        "--until",
        default="today",
        metavar="DATE",
        help="use rows before this date (default: today, UTC)",
    )
    when = re.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DATE", help="only rows from this date on")
    when.add_argument(
        "--since-days", type=int, metavar="N", help="only rows of the N days before --until"
    )
    re.add_argument("--backtest-days", type=int, default=14, help="held-out latest days (14)")
    re.add_argument("--time-column", help="the labels' date column (default: the only one)")
    re.add_argument("--metric", help="compared metric (default rmse / accuracy)")
    re.add_argument("--no-cost", action="store_true", help="skip measuring prediction latency")
    re.add_argument(
        "--tune",
        type=_trials,
        default=0,
        metavar="N",
        help="re-tune with N Optuna trials instead of refitting (default 0: refit)",
    )
    re.add_argument(
        "--cluster",
        help="where --tune's trials run: local, or a scheduler tcp://host:port (default: "
        "the dask_scheduler setting, else local)",
    )
    re.add_argument("--workers", type=int, help="worker processes of a local cluster")
    re.add_argument(
        "--promote", action="store_true", help="then promote it if not worse on the backtest"
    )
    re.set_defaults(func=_cmd_retrain)
