"""Closing the loop in ``workbench demo`` (steps 8 to 12), and the demo's HTTP replay: the
scheduled monitor alerts after the change, ``retrain`` packages @challenger, the last days
are served with it shadowed, it is promoted when better, and the next monitor run resolves
the alert: the functions notebook 06 walks through, in the demo's order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench._exceptions import PromotionRefused, ServingError
from workbench._imports import require
from workbench._settings import Settings
from workbench.datasets import ELECTRICITY_FEATURES as FEATURES
from workbench.datasets import ELECTRICITY_TARGET

if TYPE_CHECKING:
    import pandas as pd

    from workbench.monitoring import MonitorResult
    from workbench.packaging import PackagedModel, Promotion, Retraining

__all__ = ["LoopResult", "close_the_loop", "record_actuals", "serve_days"]


@dataclasses.dataclass(frozen=True)
class LoopResult:
    """What closing the loop did (steps 8 to 12 of the demo).

    Attributes:
        first: The first scheduled monitor run (it alerts after the change).
        retraining: The challenger ``retrain`` packaged.
        comparison: Champion and shadowed challenger on the same requests and actuals.
        promotion: The promotion (``None`` when the challenger was worse).
        refused: Why it was not promoted ("" when it was).
        last: The monitor run after the new champion served (it resolves the alert).
        n_shadowed: Requests answered with the challenger shadowed.
        n_served: Requests the new champion answered.
    """

    first: MonitorResult
    retraining: Retraining
    comparison: pd.DataFrame
    promotion: Promotion | None
    refused: str
    last: MonitorResult
    n_shadowed: int
    n_served: int


def serve_days(
    model_uri: str,
    days: pd.DataFrame,
    *,
    settings: Settings,
    event_time: str,
    bars: bool,
    args: tuple[str, ...] = (),
) -> tuple[list[tuple[str, pd.DataFrame]], str]:
    """Serve ``model_uri`` and send it each day of ``days`` as one request, with the rows'
    own date (the event time the server logs beside the inputs); the request ids with
    each day's rows, and where it was served."""
    httpx = require("httpx", feature="the demo's HTTP client")
    tqdm = require("tqdm.auto", feature="progress bars").tqdm
    from workbench.serving import ScoringServer

    answered: list[tuple[str, pd.DataFrame]] = []  # request id, the day's rows
    with ScoringServer(
        model_uri,
        log_dir=Path(settings.inference_log_dir),
        host=settings.host,
        project_dir=settings.project_dir,
        args=args,
        startup_timeout=600.0,  # loading the model on a busy machine
    ) as server:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            grouped = list(days.groupby("date", sort=True))
            for _day, batch in tqdm(grouped, desc="scoring days", unit="request", disable=not bars):
                # pandas writes NaN as null, as MLflow's own clients do
                split = batch[[*FEATURES, event_time]].to_json(
                    orient="split", index=False, date_format="iso"
                )
                response = client.post(
                    "/invocations",
                    content='{"dataframe_split": ' + split + "}",
                    headers={"Content-Type": "application/json"},
                )
                if response.status_code != 200:
                    raise ServingError(
                        f"The scoring server answered {response.status_code}: {response.text}"
                    )
                answered.append((response.headers["X-Request-ID"], batch))
        return answered, server.url


def record_actuals(log_dir: Path, answered: list[tuple[str, pd.DataFrame]]) -> None:
    """The true consumption of each answered row, by request id (known here at once, in
    production days later)."""
    from workbench.serving import log_actuals

    log_actuals(
        log_dir,
        [request_id for request_id, rows in answered for _ in range(len(rows))],
        [float(v) for _, rows in answered for v in rows[ELECTRICITY_TARGET]],
        rows=[i for _, rows in answered for i in range(len(rows))],
    )


def close_the_loop(
    model: PackagedModel,
    *,
    settings: Settings,
    labels: Path,
    change_date: str,
    loop_start: pd.Timestamp,
    days: pd.DataFrame,
    event_time: str,
    step: Callable[[int, str], None],
    detail: Callable[[str, str | Path], None],
    bars: bool,
) -> LoopResult:
    """Steps 8 to 12, with the functions notebook 06 walks through: the scheduled monitor
    (``run_monitor``) alerts, ``retrain`` packages @challenger on the data since the
    change, ``days`` are served with the challenger shadowed (the first two thirds) and
    their actuals recorded, ``compare_shadow`` and ``promote_shadowed`` (the dashboard's
    Promote button) decide, the new champion serves the rest, and the next monitor run
    resolves the alert. Alerts go to the receivers of ``[tool.workbench.alerts]`` only;
    without them they are recorded, and nothing leaves the machine."""
    import pandas as pd

    from workbench.monitoring import (
        compare_shadow,
        notifier_from_settings,
        promote_shadowed,
        run_monitor,
    )
    from workbench.packaging import retrain

    log_dir = Path(settings.inference_log_dir)
    notifier = notifier_from_settings(settings)

    # weeks, as steps 6 and 7 count them; alerts look at the latest week with at least
    # four days of rows (not a week the data ends a day into)
    min_rows = int(4 * days.groupby("date").size().median())

    def monitor() -> MonitorResult:
        return run_monitor(
            model.name,
            log_dir=log_dir,
            period="1W",
            min_rows=min_rows,
            notifier=notifier,
            settings=settings,
        )

    def told(result: MonitorResult) -> str:
        if notifier is None:
            return "recorded; no receiver in [tool.workbench.alerts], nothing left this machine"
        events = ", ".join(f"{d.event} {d.metric}" for d in result.deliveries) or "nothing new"
        failed = sum(not d.ok for d in result.deliveries)
        return f"sent: {events}" + (f" ({failed} failed)" if failed else "")

    first = monitor()
    holding = ", ".join(a.metric for a in first.alerts) or "none"
    week = str(first.alerts[0].window)[:10] if first.alerts else "-"
    step(
        8,
        f"scheduled monitor: run {first.run} read {first.new_rows:,} log rows and "
        f"{first.new_actuals:,} actuals; alerts in the week of {week}: {holding} "
        f"({told(first)})",
    )

    retrained = retrain(
        model.name,
        labels=labels,
        until=str(loop_start.date()),
        since=change_date,
        backtest_days=14,
        metric="mae",
        measure_cost=False,
        settings=settings,
    )
    scores = retrained.scores["mae"]
    step(
        9,
        f"retrain: v{retrained.model.version} (@challenger) refitted on "
        f"{len(retrained.train):,} rows since {change_date}; MAE on the latest 14 days "
        f"{scores['challenger']:,.0f} vs the champion's {scores['champion']:,.0f}",
    )

    cut = loop_start + pd.Timedelta(days=(2 * days["date"].nunique()) // 3)
    shadowed, _ = serve_days(
        model.model_uri,
        days[days["date"] < cut],
        settings=settings,
        event_time=event_time,
        bars=bars,
        args=("--shadow", "challenger"),
    )
    record_actuals(log_dir, shadowed)
    comparison = compare_shadow(log_dir, task="regression").set_index("role")
    mae = comparison["mae"]
    step(
        10,
        f"shadow: @champion answered {len(shadowed)} days of traffic and v"
        f"{retrained.model.version} every request off the request path; MAE on the same "
        f"{int(comparison['rows'].iloc[-1]):,} rows with actuals "
        f"{mae['challenger']:,.0f} (challenger) vs {mae['champion']:,.0f} (champion)",
    )

    promotion: Promotion | None = None
    refused = ""
    try:
        promotion = promote_shadowed(
            model.name, log_dir, promoted_by="workbench demo", settings=settings
        )
        verdict = (
            f"promote: v{promotion.version} is @champion, not worse when both were scored "
            f"again on the {promotion.rows:,} shadowed rows (v{promotion.previous} keeps "
            f"@previous_champion; the version records who promoted it)"
        )
    except PromotionRefused as exc:
        refused = str(exc)
        verdict = f"promote: refused, @champion stays: {refused}"
    step(11, verdict)

    served, _ = serve_days(
        f"models:/{model.name}@champion",
        days[days["date"] >= cut],
        settings=settings,
        event_time=event_time,
        bars=bars,
    )
    record_actuals(log_dir, served)
    last = monitor()
    cleared = sorted({a.metric for a in first.alerts} - {a.metric for a in last.alerts})
    still = [
        f"{a.metric} ({_drifted(a.reason)})" if a.metric == "drift" else a.metric
        for a in last.alerts
    ]
    step(
        12,
        f"monitor again: v{last.version} answered {len(served)} days; resolved: "
        f"{', '.join(cleared) or 'none'}; still holding: {', '.join(still) or 'none'} "
        f"({told(last)})",
    )
    detail("alert record", Path(settings.monitoring_dir) / "monitor" / model.name)
    return LoopResult(
        first=first,
        retraining=retrained,
        comparison=comparison.reset_index(),
        promotion=promotion,
        refused=refused,
        last=last,
        n_shadowed=len(shadowed),
        n_served=len(served),
    )


#: The seed's comparison: the families of the demo's short study, as people say them.


def _drifted(reason: str) -> str:
    """The columns a drift alert's reason lists, and what they were compared on (one week
    against months of reference: an input with a season moves)."""
    columns = reason.rsplit(": ", 1)[-1].rstrip(".")
    return f"{columns}: one week against months of reference"
