"""The scheduled monitor on a real registry, a real inference log and real actuals.

One small regression model is packaged once for the module; every test has its own log
folder and its own monitoring folder. Runs split over arriving data must give what one
run over all of it gives, and that must agree with the monitoring functions (and
scikit-learn) run on the whole log at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench._settings import Settings, resolve_settings
from workbench.data import ColumnContract, Contract
from workbench.monitoring import (
    Notifier,
    WebhookReceiver,
    compute_drift,
    performance_over_time,
    read_deliveries,
    reference_profile_of,
    run_monitor,
)
from workbench.serving import InferenceLogWriter, join_actuals, log_actuals, read_inference_log

REPO = Path(__file__).resolve().parents[2]
CONTRACT = Contract(
    name="toy",
    columns=(
        ColumnContract("a", "float", min=-10, max=10),
        ColumnContract("b", "float"),
        ColumnContract("region", "category", categories=("N", "S")),
    ),
)


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "a": rng.normal(shift, 1, n),
            "b": rng.normal(size=n),
            "region": rng.choice(["N", "S"], n),
        }
    )
    frame["y"] = 2 * frame["a"] + frame["b"] + rng.normal(0, 0.1, n)
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with ``toy@champion``: a linear model of ``y`` on ``a``, ``b``, ``region``."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from workbench.packaging import package_model, promote

    folder = tmp_path_factory.mktemp("monitor-project")
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    settings = resolve_settings(folder, environ={})
    train = _rows(np.random.default_rng(0), 2000)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["region"]), remainder="passthrough"),
        LinearRegression(),
    ).fit(train[["a", "b", "region"]], train["y"])
    package_model(
        model,
        train,
        "toy",
        target="y",
        contract=CONTRACT,
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    promote("toy", train.head(200), target="y", settings=settings)  # no champion yet
    import joblib

    joblib.dump(model, folder / "model.joblib")
    return folder


def _settings(project: Path, monitoring: Path) -> Settings:
    return resolve_settings(project, environ={"WORKBENCH_MONITORING_DIR": str(monitoring)})


class Traffic:
    """Writes log segments as the server does (one per call) and records actuals."""

    def __init__(self, project: Path, log: Path, seed: int = 1) -> None:
        import joblib

        self.model = joblib.load(project / "model.joblib")
        self.log = log
        self.rng = np.random.default_rng(seed)
        self.sent: list[pd.DataFrame] = []

    def day(self, day: str, n: int, shift: float = 0.0, bad: int = 0) -> pd.DataFrame:
        frame = _rows(self.rng, n, shift)
        out = frame[["a", "b", "region"]].copy()
        if bad:
            out.loc[: bad - 1, "region"] = "X"  # not one of the contract's categories
        out["prediction"] = self.model.predict(frame[["a", "b", "region"]].replace("X", "N"))
        out["request_id"] = [f"{day}-{len(self.sent)}-{i}" for i in range(n)]
        out["row_in_request"] = 0
        start = pd.Timestamp(day, tz="UTC")
        out["timestamp"] = start + pd.to_timedelta(np.linspace(0, 86_000, n), unit="s")
        out["model_name"], out["model_version"], out["latency_ms"] = "toy", "1", 2.5
        writer = InferenceLogWriter(self.log)
        writer.append(out)
        writer.close()
        out["y"] = frame["y"].to_numpy()
        self.sent.append(out)
        return out

    def actuals(self, rows: pd.DataFrame, check: bool = True) -> None:
        log_actuals(self.log, list(rows["request_id"]), list(rows["y"]), check=check)


def _scenario(traffic: Traffic, monitor: object) -> None:
    """Three days arrive in four batches, with actuals late and one ahead of its row."""
    first = traffic.day("2024-06-01", 300)
    monitor()
    second = traffic.day("2024-06-02", 200, shift=2.5, bad=30)
    traffic.actuals(first.iloc[:150])
    monitor()
    more = traffic.day("2024-06-02", 100, shift=2.5)  # the same day, a later segment
    traffic.actuals(second)
    monitor()
    third = traffic.day("2024-06-03", 250, shift=2.5)
    traffic.actuals(pd.concat([more, third.iloc[:100]]))
    monitor()


def test_runs_over_arriving_data_give_what_one_run_over_all_of_it_gives(
    project: Path, tmp_path: Path
) -> None:
    traffic = Traffic(project, tmp_path / "log")
    step = _settings(project, tmp_path / "step")
    runs = []
    _scenario(traffic, lambda: runs.append(run_monitor("toy", log_dir=traffic.log, settings=step)))
    assert [r.run for r in runs] == [1, 2, 3, 4]
    assert runs[1].new_actuals == 150 and runs[1].new_rows == 200
    once = run_monitor("toy", log_dir=traffic.log, settings=_settings(project, tmp_path / "once"))
    assert once.run == 1 and once.new_rows == 850 and once.new_actuals == 550
    pd.testing.assert_frame_equal(runs[-1].periods, once.periods)

    # against the monitoring functions on the whole log, and scikit-learn
    periods = once.periods.set_index("window")
    assert periods["rows"].tolist() == [300, 300, 250]
    assert periods["labelled"].tolist() == [150, 300, 100]
    log = read_inference_log(traffic.log)
    profile = reference_profile_of("toy", settings=step)
    for start, part in log.groupby(log["timestamp"].dt.floor("1D")):
        names = [c for c in profile.columns if c in part.columns]
        snap = compute_drift(profile, part, names, progress=False)
        assert periods.loc[start, "share_drifted"] == pytest.approx(snap.share_drifted)
        assert periods.loc[start, "drifted"] == ", ".join(snap.drifted_columns)
    assert periods["dataset_drift"].tolist() == [False, True, True]
    joined = join_actuals(log, traffic.log)
    expected = performance_over_time(joined, task="regression", period="1D").set_index("window")
    np.testing.assert_allclose(periods["mae"], expected["mae"])
    from sklearn.metrics import mean_absolute_error

    day2 = joined[(joined["timestamp"].dt.day == 2) & joined["actual"].notna()]
    assert periods["mae"].iloc[1] == pytest.approx(
        mean_absolute_error(day2["actual"], day2["prediction"])
    )
    # the contract: 30 rows of 300 on 2 June name a region that is not N or S
    assert periods["integrity_rows"].tolist() == [0, 30, 0]


def test_a_second_run_over_the_same_data_changes_nothing(project: Path, tmp_path: Path) -> None:
    traffic = Traffic(project, tmp_path / "log")
    traffic.actuals(traffic.day("2024-06-01", 200))
    settings = _settings(project, tmp_path / "mon")
    first = run_monitor("toy", log_dir=traffic.log, settings=settings)
    files = sorted(p.relative_to(tmp_path / "mon") for p in (tmp_path / "mon").rglob("*"))
    again = run_monitor("toy", log_dir=traffic.log, settings=settings)
    assert (again.run, again.new_rows, again.new_actuals) == (1, 0, 0)
    assert again.mlflow_run_id is None and first.mlflow_run_id is not None
    pd.testing.assert_frame_equal(first.periods, again.periods)
    assert again.alerts == first.alerts
    after = sorted(p.relative_to(tmp_path / "mon") for p in (tmp_path / "mon").rglob("*"))
    assert after == files
    assert len(_recorded(settings, tmp_path / "mon")) == 1
    # the dashboard's files: the period's snapshot and the version's table
    snaps = sorted((tmp_path / "mon").glob("drift-*-toy-v1.json"))
    assert [p.name for p in snaps] == ["drift-20240601T000000-toy-v1.json"]
    table = json.loads((tmp_path / "mon" / "performance-toy-v1.json").read_text())
    assert table[0]["labelled"] == 200


def test_alert_rules_on_the_latest_period(project: Path, tmp_path: Path) -> None:
    traffic = Traffic(project, tmp_path / "log")
    traffic.actuals(traffic.day("2024-06-01", 2000))
    settings = _settings(project, tmp_path / "mon")
    calm = run_monitor(
        "toy", log_dir=traffic.log, settings=settings, thresholds={"mae": ("max", 1)}
    )
    assert calm.alerts == ()
    shifted = traffic.day("2024-06-02", 200, shift=3, bad=40)
    rows = shifted.assign(y=shifted["y"] + 5)  # the world changed: the model is now off
    traffic.actuals(rows)
    hot = run_monitor("toy", log_dir=traffic.log, settings=settings, thresholds={"mae": ("max", 1)})
    assert {a.metric for a in hot.alerts} == {"drift", "mae", "integrity region: unknown category"}
    assert all(a.window == "2024-06-02T00:00:00+00:00" for a in hot.alerts)
    integrity = next(a for a in hot.alerts if a.metric.startswith("integrity"))
    assert integrity.value == pytest.approx(40 / 200)
    assert "40 of 200 rows" in integrity.reason


def _recorded(settings: Settings, monitoring: Path) -> list[object]:
    """The MLflow runs (not deleted) that the monitor in ``monitoring`` recorded."""
    from workbench._tracking import mlflow_for

    client = mlflow_for(settings).MlflowClient()
    experiment = client.get_experiment_by_name("monitoring/toy")
    store = monitoring / "monitor" / "toy"
    return list(
        client.search_runs(
            [experiment.experiment_id], f"tags.`workbench.monitor_store` = '{store}'"
        )
    )


class Receiver:
    """A local HTTP receiver that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        bodies: list[dict[str, object]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


KILLER = """
import os, signal, sys
from pathlib import Path
stage, project, monitoring, log, url = sys.argv[1:]
import workbench.monitoring._checkpoint as checkpoint
import workbench.monitoring._job as job
import workbench.monitoring._increment as increment
import workbench.monitoring._notify as notify
from workbench._settings import resolve_settings

def after(owner, name, calls=1):
    original, seen = getattr(owner, name), []
    def wrapped(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(1)
        if len(seen) == calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(owner, name, wrapped)

{
    "ledger": lambda: after(checkpoint.MonitorStore, "write_part"),
    "state": lambda: after(checkpoint.MonitorStore, "write_state"),
    "mlflow": lambda: after(increment.Step, "record_mlflow"),
    "checkpoint": lambda: after(checkpoint, "atomic_write"),
    "delivery": lambda: after(notify.Notifier, "_record"),
}[stage]()
settings = resolve_settings(project, environ={"WORKBENCH_MONITORING_DIR": monitoring})
job.run_monitor("toy", log_dir=log, settings=settings, thresholds={"mae": ("max", 1.0)},
                notifier=notify.Notifier([notify.WebhookReceiver(url)]), now=1000.0)
print("not killed")
"""


@pytest.mark.parametrize("stage", ["ledger", "mlflow", "checkpoint", "delivery"])
def test_a_run_killed_mid_way_and_run_again_gives_the_result_of_one_run(
    project: Path, tmp_path: Path, receiver: Receiver, stage: str
) -> None:
    """SIGKILL at each step of a run (after writing its ledger, its state, its MLflow
    run, the checkpoint, the first message): the next run records the same periods, the
    same checkpoint, one MLflow run, and the receiver hears each alert once."""
    traffic = Traffic(project, tmp_path / "log")
    traffic.actuals(traffic.day("2024-06-01", 200))
    shifted = traffic.day("2024-06-02", 200, shift=3)
    traffic.actuals(shifted.assign(y=shifted["y"] + 5))
    killed = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            stage,
            str(project),
            str(killed),
            str(traffic.log),
            receiver.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    heard_before = len(receiver.bodies)

    def monitor(folder: Path) -> object:
        return run_monitor(
            "toy",
            log_dir=traffic.log,
            settings=_settings(project, folder),
            thresholds={"mae": ("max", 1.0)},
            notifier=Notifier([WebhookReceiver(receiver.url)]),
            now=1000.0,
        )

    again = monitor(killed)
    heard_killed = [b["metric"] for b in receiver.bodies]
    receiver.bodies.clear()
    whole = monitor(tmp_path / "whole")
    heard_whole = [b["metric"] for b in receiver.bodies]
    pd.testing.assert_frame_equal(again.periods, whole.periods)
    assert again.alerts == whole.alerts and again.run == whole.run == 1
    assert sorted(heard_killed) == sorted(heard_whole) == ["drift", "mae"]
    assert heard_before == (1 if stage == "delivery" else 0)
    store = killed / "monitor" / "toy"
    ours = json.loads((store / "checkpoint.json").read_text())
    theirs = json.loads((tmp_path / "whole" / "monitor" / "toy" / "checkpoint.json").read_text())
    assert ours == theirs
    assert sorted(p.name for p in store.iterdir()) == sorted(
        p.name for p in (tmp_path / "whole" / "monitor" / "toy").iterdir()
    )
    sent = [d for d in read_deliveries(store) if d["ok"]]
    assert sorted(d["metric"] for d in sent) == ["drift", "mae"]
    found = _recorded(_settings(project, killed), killed)
    assert [r.data.tags["workbench.monitor_run"] for r in found] == ["1"]
    assert len(found[0].data.metrics) == len(
        _recorded(_settings(project, killed), tmp_path / "whole")[0].data.metrics
    )


def test_the_monitor_command(
    project: Path, tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench._cli import main

    traffic = Traffic(project, tmp_path / "log")
    traffic.actuals(traffic.day("2024-06-01", 2000))
    shifted = traffic.day("2024-06-02", 300, shift=3)
    traffic.actuals(shifted.assign(y=shifted["y"] + 5))
    command = ["monitor", "--project-dir", str(project), "--model", "toy"]
    command += ["--log-dir", str(traffic.log)]
    command += ["--threshold", "mae:max:1", "--webhook", receiver.url, "--webhook-format", "slack"]
    env = {"WORKBENCH_MONITORING_DIR": str(tmp_path / "mon")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert main([*command, "--fail-on-alert"]) == 3
        out = capsys.readouterr().out
        assert main(command) == 0  # nothing new, nothing resent
        again = capsys.readouterr().out
    assert "toy v1 (@champion): run 1, 2,300 new rows, 2,300 new actuals, 2 periods\n" in out
    assert "\n  alerts holding: drift, mae; 2 messages sent\n" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("period"))
    assert lines[header].split()[:4] == ["period", "rows", "share_drifted", "drifted"]
    assert lines[header + 1].startswith("2024-06-01  2,000")
    assert lines[header + 2].startswith("2024-06-02  300")
    cells = lines[header + 2].split()  # the drifted share in percent
    assert cells[3] == "%" and 0 < float(cells[2]) <= 100
    assert "ALERT drift:" in out and "ALERT mae: mae = " in out
    assert "fired drift → webhook:slack:http://127.0.0.1" in out
    assert [b["text"].split("\n")[0] for b in receiver.bodies] == [
        "[ALERT] toy v1 (@champion): drift",
        "[ALERT] toy v1 (@champion): mae",
    ]
    assert "run 1, 0 new rows" in again and "fired" not in again
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_MONITORING_DIR", str(tmp_path / "mon"))
        assert main([*command, "--json", "--no-notify"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["rows"] for p in data["periods"]] == [2000, 300]
    assert {a["metric"] for a in data["alerts"]} == {"drift", "mae"}
    with pytest.raises(SystemExit):
        main(["monitor", "--threshold", "mae:above:1"])
    assert "a threshold is METRIC:max:BOUND or METRIC:min:BOUND" in capsys.readouterr().err


@pytest.mark.slow
def test_a_classifiers_performance_is_estimated_before_labels_and_realized_after(
    tmp_path: Path,
) -> None:
    """Before any actual the monitor gives the CBPE estimate per period (and alerts on
    it); once actuals arrive for a period, its realized metrics, close to the estimate."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score

    from workbench.packaging import package_model, promote

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(tmp_path, environ={})
    rng = np.random.default_rng(7)

    def rows(n: int) -> pd.DataFrame:
        frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
        frame["churn"] = np.where(frame["a"] + rng.normal(0, 0.7, n) > 0, "yes", "no")
        return frame

    train, holdout, served = rows(3000), rows(2000), rows(600)
    model = HistGradientBoostingClassifier(max_iter=30).fit(train[["a", "b"]], train["churn"])
    package_model(
        model, train, "churn", target="churn", holdout=holdout, measure_cost=False,
        progress=False, settings=settings,
    )  # fmt: skip
    promote("churn", holdout, target="churn", settings=settings)
    out = served[["a", "b"]].copy()
    scores = model.predict_proba(out)
    out["prediction"] = model.predict(out)
    out["proba_no"], out["proba_yes"] = scores[:, 0], scores[:, 1]
    out["request_id"], out["row_in_request"] = [f"r{i}" for i in range(600)], 0
    out["timestamp"] = pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(
        np.arange(600) * 200, unit="s"
    )  # 1 June and the first hours of 2 June
    out["model_name"], out["model_version"], out["latency_ms"] = "churn", "1", 1.0
    writer = InferenceLogWriter(tmp_path / "log")
    writer.append(out)
    writer.close()
    limits = {"accuracy": ("min", 0.99)}
    before = run_monitor("churn", log_dir=tmp_path / "log", settings=settings, thresholds=limits)
    assert "accuracy" not in before.periods and "estimated accuracy" in before.periods
    assert "estimated accuracy" in [a.metric for a in before.alerts]
    estimate = before.periods["estimated accuracy"].iloc[0]
    assert 0.6 < estimate < 0.95
    first_day = out.iloc[:432]
    log_actuals(tmp_path / "log", list(first_day["request_id"]), list(served["churn"][:432]))
    after = run_monitor("churn", log_dir=tmp_path / "log", settings=settings, thresholds=limits)
    realized = after.periods["accuracy"].iloc[0]
    assert realized == pytest.approx(accuracy_score(served["churn"][:432], first_day["prediction"]))
    assert abs(realized - estimate) < 0.05
    assert after.periods["labelled"].tolist() == [432, 0]


def _labels_file(traffic: Traffic, path: Path) -> str:
    """The logged rows' outcomes as label rows (a day column and the target)."""
    sent = pd.concat(traffic.sent, ignore_index=True)
    labels = sent[["a", "b", "region", "y"]].assign(day=sent["timestamp"].dt.tz_localize(None))
    labels.to_parquet(path, index=False)
    return str(path)


def test_an_alert_rules_retrain_runs_once_per_firing_and_its_failure_is_reported(
    project: Path, tmp_path: Path, receiver: Receiver
) -> None:
    """``toy`` was not trained from the feature store, so retraining it fails for real:
    the failure is told to the receiver and recorded (MLflow, actions.jsonl), the
    monitor's results stand, and it is not tried again while the same firing holds; once
    the alert clears and fires again, it is."""
    from workbench._tracking import mlflow_for
    from workbench.monitoring import AlertAction

    traffic = Traffic(project, tmp_path / "log")
    traffic.actuals(traffic.day("2024-06-01", 300))
    shifted = traffic.day("2024-06-02", 200)
    traffic.actuals(shifted.assign(y=shifted["y"] + 5))  # the model is now off
    labels = _labels_file(traffic, tmp_path / "labels.parquet")
    settings = _settings(project, tmp_path / "mon")
    rule = AlertAction("mae", labels=labels, backtest_days=1, measure_cost=False)
    rest = AlertAction("*", labels=labels, measure_cost=False)  # drift, integrity...

    def monitor(*rules: AlertAction) -> object:
        return run_monitor(
            "toy",
            log_dir=traffic.log,
            settings=settings,
            thresholds={"mae": ("max", 1.0)},
            notifier=Notifier([WebhookReceiver(receiver.url)]),
            actions=rules or [rule],
            now=1000.0,
        )

    first = monitor(rule, rest)
    assert "mae" in [a.metric for a in first.alerts]
    (outcome,) = first.actions  # alerts firing together: one retrain for all
    store = tmp_path / "mon" / "monitor" / "toy"
    book = json.loads((store / "actions.json").read_text())
    assert set(book) == {a.metric for a in first.alerts}
    assert (outcome.action, outcome.state) == ("retrain", "failed")
    assert outcome.metric == min(a.metric for a in first.alerts)  # the first that fired
    assert "ModelError" in outcome.detail and "names no feature view" in outcome.detail
    assert outcome.window == "2024-06-02T00:00:00+00:00"
    # the monitor's results are committed and recorded all the same
    plain = run_monitor(
        "toy", log_dir=traffic.log, settings=_settings(project, tmp_path / "plain"),
        thresholds={"mae": ("max", 1.0)},
    )  # fmt: skip
    pd.testing.assert_frame_equal(first.periods, plain.periods)
    checkpoint = json.loads((tmp_path / "mon" / "monitor" / "toy" / "checkpoint.json").read_text())
    assert checkpoint["run"] == 1
    (recorded,) = _recorded(settings, tmp_path / "mon")
    assert json.loads(recorded.data.tags["workbench.actions"])[0]["state"] == "failed"
    titles = [b["title"] for b in receiver.bodies]
    fired = len(first.alerts)
    assert titles[fired:] == [f"[RETRAIN FAILED] toy v1 (@champion): {outcome.metric}"]
    assert "names no feature view" in receiver.bodies[-1]["text"]
    events = [d["event"] for d in read_deliveries(store)]
    assert events == ["fired"] * fired + ["retrain failed"]

    # the same firing, another run: nothing retried, nothing told
    again = monitor()
    assert again.actions == () and again.alerts == first.alerts
    assert len(receiver.bodies) == fired + 1
    # the alert clears (a calm day): the firing is forgotten; it fires again: acted on again
    traffic.actuals(traffic.day("2024-06-03", 200))
    calm = monitor()
    assert "mae" not in {a.metric for a in calm.alerts}
    assert "mae" not in json.loads((store / "actions.json").read_text())
    hot = traffic.day("2024-06-04", 200)
    traffic.actuals(hot.assign(y=hot["y"] + 5))
    hot_run = monitor()
    assert [(o.metric, o.state) for o in hot_run.actions] == [("mae", "failed")]
    lines = [json.loads(x) for x in (store / "actions.jsonl").read_text().splitlines()]
    assert [(x["run"], x["window"][:10]) for x in lines] == [(1, "2024-06-02"), (3, "2024-06-04")]
    client = mlflow_for(settings).MlflowClient()
    assert not [v for v in client.search_model_versions("name = 'toy'") if str(v.version) != "1"]


RETRAIN_KILLER = """
import os, signal, sys
import workbench.packaging as packaging
from workbench._settings import resolve_settings
from workbench.monitoring import AlertAction, Notifier, WebhookReceiver, run_monitor

project, monitoring, log, url, labels = sys.argv[1:]

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

packaging.retrain = killed  # the process dies while it retrains
settings = resolve_settings(project, environ={"WORKBENCH_MONITORING_DIR": monitoring})
run_monitor("toy", log_dir=log, settings=settings, thresholds={"mae": ("max", 1.0)},
            notifier=Notifier([WebhookReceiver(url)]), now=1000.0,
            actions=[AlertAction("ma*", labels=labels)])
print("not killed")
"""


def test_a_run_killed_while_it_retrains_is_not_retrained_again_for_that_firing(
    project: Path, tmp_path: Path, receiver: Receiver
) -> None:
    from workbench.monitoring import AlertAction

    traffic = Traffic(project, tmp_path / "log")
    shifted = traffic.day("2024-06-02", 200)
    traffic.actuals(shifted.assign(y=shifted["y"] + 5))
    labels = _labels_file(traffic, tmp_path / "labels.parquet")
    script = tmp_path / "killer.py"
    script.write_text(RETRAIN_KILLER)
    monitoring = tmp_path / "mon"
    done = subprocess.run(
        [sys.executable, str(script), str(project), str(monitoring), str(traffic.log),
         receiver.url, labels],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    told = [b["title"] for b in receiver.bodies]
    assert "[ALERT] toy v1 (@champion): mae" in told and not [t for t in told if "RETRAIN" in t]
    again = run_monitor(
        "toy",
        log_dir=traffic.log,
        settings=_settings(project, monitoring),
        thresholds={"mae": ("max", 1.0)},
        notifier=Notifier([WebhookReceiver(receiver.url)]),
        actions=[AlertAction("ma*", labels=labels, measure_cost=False)],
        now=1000.0,
    )
    assert again.run == 1 and again.new_rows == 0  # the killed run had committed
    (outcome,) = again.actions
    assert outcome.state == "interrupted" and "not run again for this firing" in outcome.detail
    assert [b["title"] for b in receiver.bodies][len(told) :] == [
        "[RETRAIN INTERRUPTED] toy v1 (@champion): mae"
    ]
    third = run_monitor(
        "toy", log_dir=traffic.log, settings=_settings(project, monitoring),
        thresholds={"mae": ("max", 1.0)}, actions=[AlertAction("ma*", labels=labels)],
    )  # fmt: skip
    assert third.actions == ()


def test_alert_rules_are_read_from_the_project_and_wrong_ones_are_named(tmp_path: Path) -> None:
    from workbench._exceptions import ConfigurationError
    from workbench.monitoring import AlertAction, actions_from_settings
    from workbench.monitoring._alerts import actions_from_config

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.workbench.alerts.rules.mae]\naction = "retrain"\n'
        'labels = "data/labels.parquet"\nbacktest_days = 7\npromote = true\n\n'
        '[tool.workbench.alerts.rules."integrity*"]\naction = "retrain"\n'
        'labels = "/abs/labels.csv"\ntune = 5\nsince_days = 30\n'
    )
    rules = actions_from_settings(resolve_settings(tmp_path, environ={}))
    assert rules == [
        AlertAction(
            "mae", labels=str(tmp_path / "data/labels.parquet"), backtest_days=7, promote=True
        ),
        AlertAction("integrity*", labels="/abs/labels.csv", tune=5, since_days=30),
    ]
    assert rules[1].matches("integrity region: unknown category")
    assert not rules[1].matches("mae") and rules[0].matches("mae")
    cases = [
        ({"mae": {"action": "page", "labels": "x"}}, "names the action 'page'; the actions"),
        ({"mae": {"action": "retrain"}}, "'retrain' needs 'labels'"),
        ({"mae": {"labels": "x"}}, "'mae' names no action"),
        ({"mae": {"action": "retrain", "labels": "x", "days": 3}}, r"unknown fields \['days'\]"),
        ({"mae": {"action": "retrain", "labels": "x", "backtest_days": 0}}, "'backtest_days'"),
        ({"mae": {"action": "retrain", "labels": "x", "promote": "yes"}}, "'promote' must be"),
        ({"mae": "retrain"}, "'mae' must be a table"),
    ]
    for rules_table, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            actions_from_config({"rules": rules_table})


def test_on_a_dask_cluster_the_monitor_gives_exactly_the_in_process_result(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log of eleven segments over four days (with rows breaking the contract and
    actuals) read in chunks of about 300 rows: in this process, and on a real
    LocalCluster of two worker processes, in two runs each; the results, the snapshots
    the dashboard reads, the state and the ledger are the same to the bit."""
    import distributed

    import workbench.monitoring._increment as increment
    from workbench._exceptions import ConfigurationError

    monkeypatch.setattr(increment, "CHUNK", 300)
    traffic = Traffic(project, tmp_path / "log")
    batches = [("2024-06-01", 150, 0.0, 0), ("2024-06-01", 200, 0.0, 0), ("2024-06-02", 120, 2, 9)]
    for day, n, shift, bad in batches:
        traffic.actuals(traffic.day(day, n, shift=shift, bad=bad).iloc[::2])
    runs: dict[str, list[object]] = {"here": [], "cluster": []}

    def both(client: object) -> None:
        for where, cluster in (("here", None), ("cluster", client)):
            runs[where].append(
                run_monitor(
                    "toy",
                    log_dir=traffic.log,
                    settings=_settings(project, tmp_path / where),
                    thresholds={"mae": ("max", 0.5)},
                    cluster=cluster,
                )
            )

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        both(client)
        for i, day in enumerate(["2024-06-02", "2024-06-03", "2024-06-03", "2024-06-04"] * 2):
            sent = traffic.day(day, 100 + 37 * i, shift=2.5 if i % 2 else 0.0, bad=i)
            traffic.actuals(sent.iloc[: 40 + i])
        with distributed.get_task_stream(client) as stream:
            both(client)
    # the workers read and counted the new segments: the counting pass and the chunks
    ran = {str(t["key"]).split("-")[0] for t in stream.data}
    assert {"_versions_in", "_count_chunk"} <= ran, ran
    for here, there in zip(runs["here"], runs["cluster"], strict=True):
        pd.testing.assert_frame_equal(here.periods, there.periods, check_exact=True)
        assert here.alerts == there.alerts and here.new_rows == there.new_rows
    last = runs["cluster"][-1]
    assert last.new_rows == sum(100 + 37 * i for i in range(8)) and len(last.periods) == 4
    assert "drift" in {a.metric for a in last.alerts}  # compared above, alert for alert
    here_store, there_store = (tmp_path / w / "monitor" / "toy" for w in ("here", "cluster"))
    for name in ("state-000002/state.json", "ledger/part-000001.parquet",
                 "ledger/part-000002.parquet", "labels/part-000002.parquet"):  # fmt: skip
        assert (here_store / name).read_bytes() == (there_store / name).read_bytes(), name
    snaps = sorted(p.name for p in (tmp_path / "here").glob("*.json"))
    assert len(snaps) == 5  # four days' drift snapshots and the performance table
    for name in snaps:  # the same, but for when each was written
        here, there = (json.loads((tmp_path / w / name).read_text()) for w in ("here", "cluster"))
        if isinstance(here, dict):
            assert here.pop("created_at") != "" and there.pop("created_at") != ""
        assert here == there, name
    traffic.day("2024-06-05", 10)
    with pytest.raises(ConfigurationError, match="cluster must be 'local', 'cuda', a scheduler"):
        run_monitor("toy", log_dir=traffic.log, settings=_settings(project, tmp_path / "x"),
                    cluster="nowhere")  # fmt: skip


def test_the_monitor_command_runs_the_projects_alert_rules(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``workbench monitor`` reads the rules of ``[tool.workbench.alerts.rules]``, says
    what the action did and exits with 4 when it failed (its results recorded); here
    the new segments are counted on a local cluster of one worker."""
    from workbench._cli import main

    traffic = Traffic(project, tmp_path / "log")
    hot = traffic.day("2024-06-02", 300)
    traffic.actuals(hot.assign(y=hot["y"] + 5))
    labels = _labels_file(traffic, tmp_path / "labels.parquet")
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    command = ["monitor", "--project-dir", str(project), "--model", "toy", "--log-dir"]
    command += [str(traffic.log), "--threshold", "mae:max:1"]
    try:
        pyproject.write_text(
            original + f'\n[tool.workbench.alerts.rules.mae]\naction = "retrain"\n'
            f"labels = {json.dumps(labels)}\nmeasure_cost = false\n"
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_MONITORING_DIR", str(tmp_path / "mon"))
            assert main([*command, "--cluster", "local", "--workers", "1"]) == 4
            out = capsys.readouterr().out
            assert main([*command, "--json"]) == 0  # the same firing: not acted on again
            data = json.loads(capsys.readouterr().out)
    finally:
        pyproject.write_text(original)
    assert "run 1, 300 new rows, 300 new actuals, 1 periods" in out
    assert "retrain on mae FAILED: ModelError: toy v1 names no feature view" in out
    assert "this run's results are recorded; the action is not tried again" in out
    assert data["run"] == 1 and data["actions"] == []
    assert "mae" in {a["metric"] for a in data["alerts"]}
    lines = (tmp_path / "mon" / "monitor" / "toy" / "actions.jsonl").read_text().splitlines()
    assert [json.loads(x)["state"] for x in lines] == ["failed"]
