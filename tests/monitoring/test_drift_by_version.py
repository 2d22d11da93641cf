"""The dashboard compares each logged row with the reference of the version that answered
it: a log answered by version 1 and then by version 2 (trained on data after a change)
is green in every week against each version's own training data, where comparing every
row with today's champion (version 2) would paint version 1's weeks red."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.monitoring.test_timeline import _seasonal

NAME = "plant"
FEATURES = ["temperature", "volume"]


def _shifted(first: str, last: str, *, per_day: int, seed: int) -> pd.DataFrame:
    """Rows after the change: the production volume 40 % up on every day."""
    return _seasonal(first, last, change=first, per_day=per_day, seed=seed)


def _package(year: pd.DataFrame, settings: Any) -> Any:
    """A ridge over ``year`` packaged as ``plant`` and pointed at by @champion (its
    profile keeps a calendar of ``date``, the contract's event time); the fitted model."""
    from sklearn.linear_model import Ridge

    from workbench._tracking import mlflow_for
    from workbench.data import infer_contract
    from workbench.packaging import package_model

    year = year.assign(y=3 * year["temperature"] + year["volume"] / 100)
    model = Ridge().fit(year[FEATURES], year["y"])
    columns = ["date", *FEATURES, "y"]
    contract = dataclasses.replace(infer_contract(year[columns]), event_time="date")
    packaged = package_model(
        model,
        year[[*FEATURES, "y"]],
        NAME,
        target="y",
        reference=year[columns],
        contract=contract,
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    client = mlflow_for(settings).MlflowClient()  # as promote() would, without a holdout
    client.set_registered_model_alias(NAME, "champion", str(packaged.version))
    return model


def _rows(frame: pd.DataFrame, model: Any, version: str, first_id: int) -> pd.DataFrame:
    logged = frame[["date", *FEATURES]].copy()
    logged["prediction"] = model.predict(frame[FEATURES])
    logged["request_id"] = [f"r{first_id + i}" for i in range(len(logged))]
    logged["row_in_request"] = 0
    logged["timestamp"] = pd.Timestamp("2025-01-15", tz="UTC")  # all arrived later
    logged["model_name"], logged["model_version"], logged["latency_ms"] = NAME, version, 2.0
    return logged


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A project whose ``plant`` v1 was trained on a year before a change and v2 (now
    @champion) on a year after it, and a log of 2024: v1 answered up to 3 July, v2
    from then on, each on rows like its own training data; a few days of January 2025
    answered by a version 7 the registry does not know."""
    from workbench._settings import resolve_settings
    from workbench.serving import InferenceLogWriter

    root = tmp_path_factory.mktemp("by_version")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(
        root, environ={"WORKBENCH_MONITORING_DIR": str(root / "monitoring")}
    )
    v1 = _package(_seasonal("2022-01-01", "2022-12-31", per_day=4, seed=6), settings)
    v2 = _package(_shifted("2023-01-01", "2023-12-31", per_day=4, seed=8), settings)
    log = root / "log"
    writer = InferenceLogWriter(log)
    before = _seasonal("2024-01-01", "2024-07-03", per_day=6, seed=7)
    after = _shifted("2024-07-04", "2024-12-29", per_day=6, seed=9)
    stray = _shifted("2024-12-30", "2025-01-12", per_day=6, seed=10)
    writer.append(_rows(before, v1, "1", 0))
    writer.append(_rows(after, v2, "2", len(before)))
    writer.append(_rows(stray, v2, "7", len(before) + len(after)))
    writer.close()
    return settings, log


def _weeks(overview: Any) -> list[Any]:
    return overview.drift_in_steps(most=None)[1]  # type: ignore[no-any-return]


def test_each_week_is_compared_with_the_reference_of_the_version_that_answered_it(
    served: tuple[Any, Path],
) -> None:
    from workbench.monitoring._collect import dashboard_inputs

    settings, log = served
    inputs = dashboard_inputs(NAME, log_dir=log, period="1W", settings=settings, progress=False)
    overview = inputs.overview
    assert overview.model_version == "2" and overview.basis.column == "date"
    assert overview.per_version and set(overview.profiles) == {"1", "2", "7"}
    assert overview.profiles["7"] is None  # no such version: compared with the champion's

    weeks = _weeks(overview)
    starts = [pd.Timestamp(s.metadata["window"]) for s in weeks]
    version = [s.metadata["model_version"] for s in weeks]
    july = pd.Timestamp("2024-07-01", tz="UTC")
    stray = pd.Timestamp("2024-12-30", tz="UTC")
    assert {v for v, s in zip(version, starts, strict=True) if s < july} == {"1"}
    assert {v for v, s in zip(version, starts, strict=True) if july < s < stray} == {"2"}
    assert {v for v, s in zip(version, starts, strict=True) if s >= stray} == {"7"}
    said = {s.metadata["model_version"]: s.metadata["compared_with"] for s in weeks}
    assert said["1"] == "version 1's reference" and said["2"] == "version 2's reference"
    assert said["7"] == ("the champion's reference (version 2): version 7 has no stored profile")
    # the week of the change (1 to 7 July): v1 answered 3 days of it, v2 4 days
    mixed = weeks[starts.index(july)]
    assert mixed.metadata["answered"] == {"1": 18, "2": 24}
    assert mixed.metadata["model_version"] == "2" and mixed.current_rows == 24
    # every week green against its own version's training data, the same calendar days
    assert all(s.metadata["reference"].startswith("the same days") for s in weeks)
    red = [s.metadata["window"] for s in weeks if "volume" in s.drifted_columns]
    assert len(red) <= 2, red
    assert len(weeks) >= 53

    # every row against today's champion (v2), as the dashboard did: v1's weeks red
    overview.by_version = False
    against_v2 = _weeks(overview)
    old = [s for s in against_v2 if pd.Timestamp(s.metadata["window"]) < july]
    assert sum("volume" in s.drifted_columns for s in old) >= len(old) - 2
    assert all("compared_with" not in s.metadata for s in against_v2)
    overview.by_version = True


def test_the_page_says_which_version_each_week_was_compared_with(
    served: tuple[Any, Path],
) -> None:
    from workbench.monitoring import (
        MonitoringDashboard,
        drift_over_time_figure,
        drift_table_figure,
    )
    from workbench.monitoring._collect import dashboard_inputs
    from workbench.monitoring._figures import versions_note

    settings, log = served
    inputs = dashboard_inputs(NAME, log_dir=log, period="1W", settings=settings, progress=False)
    starts, weeks = inputs.overview.drift_in_steps(most=None)
    fig = drift_over_time_figure(weeks, starts, basis="event time (date)", unit="week")
    assert fig.layout.title.text == "Drift per week vs the same days of the reference year"
    marks = [a.text for a in fig.layout.annotations]  # a label, and a line where it changes
    assert marks == ["version 1 →", "version 2 →", "version 7 →"]
    assert [s.line.dash for s in fig.layout.shapes] == ["dash", "dash"]
    hover = np.asarray(fig.data[0].text).ravel().tolist()
    assert any("rows of version 1, compared with version 1's reference" in h for h in hover)
    assert any("version 7 has no stored profile" in h for h in hover)
    assert any("rows of version 2 (24 of 42; v1: 18 not tested here)" in h for h in hover)

    # a version whose profile keeps no calendar (compared with the whole of it): said
    whole = [
        dataclasses.replace(w, metadata={**w.metadata, "reference": "the whole reference"})
        if w.metadata["model_version"] != "1"
        else w
        for w in weeks
    ]
    fig = drift_over_time_figure(whole, starts, basis="event time (date)", unit="week")
    assert fig.layout.title.text == (
        "Drift per week vs each version's reference<br><sup>v1: the same days of the "
        "reference year · v2: the whole reference · v7: the whole reference</sup>"
    )
    note = versions_note(whole, "week", seasonal=True)
    assert note.startswith("Versions 1, 2, 7 answered these dates")
    assert "Version 2's profile keeps no calendar of these dates" in note
    assert "Version 1's" not in note and versions_note(whole[:20], "week", seasonal=True) == ""

    board = MonitoringDashboard(inputs.overview, errors=inputs.errors)
    assert "plant v1 · v2 · v7" in board.kpis.value
    assert "Versions 1, 2, 7 answered these dates" in board.over_time_note.value
    # the whole year: v1 answered most rows, so the table tests v1's rows against v1's
    assert board.snapshot.metadata["model_version"] == "1"
    title = drift_table_figure(board.snapshot).layout.title.text
    answered = board.snapshot.metadata["answered"]
    assert (
        f"<sup>rows of version 1 ({answered['1']:,} of {sum(answered.values()):,}; "
        f"v2: {answered['2']:,}, v7: {answered['7']:,} not tested here), compared with "
        "version 1's reference</sup>"
    ) in title


def test_the_dashboard_and_the_monitor_job_agree_on_each_version_s_weeks(
    served: tuple[Any, Path],
) -> None:
    """``workbench monitor`` keeps each version's weeks against that version's profile:
    a week one version answered alone has, on the dashboard, the rows, verdicts,
    statistics and reference the job wrote for that version's week."""
    from workbench._settings import resolve_settings
    from workbench._tracking import mlflow_for
    from workbench.monitoring import run_monitor
    from workbench.monitoring._collect import dashboard_inputs

    settings, log = served
    inputs = dashboard_inputs(NAME, log_dir=log, period="1W", settings=settings, progress=False)
    mlflow_for(settings).MlflowClient().set_registered_model_alias(NAME, "retired", "1")
    job = {}
    for alias in ("champion", "retired"):  # the job writes its watched version's weeks
        own = resolve_settings(
            settings.project_dir,
            environ={"WORKBENCH_MONITORING_DIR": str(log.parent / f"monitor-{alias}")},
        )
        result = run_monitor(
            NAME, alias=alias, log_dir=log, period="1W", thresholds={}, settings=own
        )
        for path in result.snapshots:
            snap = json.loads(Path(path).read_text())
            meta = snap["metadata"]
            job[(meta["model_version"], pd.Timestamp(meta["window"]))] = snap
    assert {v for v, _ in job} == {"1", "2"}
    starts, weeks = inputs.overview.drift_in_steps(most=None)
    compared = 0
    for start, snap in zip(starts, weeks, strict=True):
        if len(snap.metadata["answered"]) > 1 or snap.metadata["model_version"] == "7":
            continue  # a mixed week: the job keeps each version's part apart
        theirs = job[(snap.metadata["model_version"], pd.Timestamp(start))]
        assert theirs["current_rows"] == snap.current_rows
        assert theirs["metadata"]["reference"] == snap.metadata["reference"]
        for column in snap.columns:
            other = next(c for c in theirs["columns"] if c["column"] == column.column)
            assert other["drifted"] == column.drifted
            assert other["statistic"] == pytest.approx(column.statistic)
        compared += 1
    assert compared >= 50


def _two_versions(days: range, version: str, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400 * len(days)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "kind": rng.choice(["a", "b"], n, p=[0.8, 0.2] if shift else [0.5, 0.5]),
            "timestamp": pd.Timestamp("2024-07-01", tz="UTC")
            + pd.to_timedelta(np.repeat(list(days), 400) * 86_400 + 3600, unit="s"),
            "request_id": [f"{version}-{i // 3}" for i in range(n)],
            "latency_ms": 1.0,
            "model_version": version,
        }
    )


def _by_version(overview: Any) -> dict[Any, Any]:
    return {
        start: {v: (p.rows, p.summary.to_dict(), str(p.first)) for v, p in s.versions.items()}
        for start, s in overview.periods.items()
    }


def test_a_segment_two_versions_answered_counts_as_one_segment_each(tmp_path: Path) -> None:
    """Rows of two versions in one segment (its footer names both: the column is read),
    in a segment each (the footer names the version: the column is not read), and at an
    fsspec URL (the Dask pass) are counted the same, each against its own profile."""
    import fsspec

    from workbench.monitoring import ReferenceProfile, collect

    rng = np.random.default_rng(0)
    profiles = {
        "1": ReferenceProfile.from_frame(
            pd.DataFrame({"x": rng.normal(0, 1, 3000), "kind": rng.choice(["a", "b"], 3000)})
        ),
        "2": ReferenceProfile.from_frame(
            pd.DataFrame(
                {"x": rng.normal(3, 1, 3000), "kind": rng.choice(["a", "b"], 3000, p=[0.8, 0.2])}
            )
        ),
    }
    first = _two_versions(range(0, 6), "1", 0.0, 1)
    second = _two_versions(range(5, 10), "2", 3.0, 2)  # day 5 answered by both
    mixed, apart = tmp_path / "mixed", tmp_path / "apart"
    mixed.mkdir(), apart.mkdir()
    pd.concat([first, second]).to_parquet(mixed / "segment-00000.parquet", index=False)
    first.to_parquet(apart / "segment-00000.parquet", index=False)
    second.to_parquet(apart / "segment-00001.parquet", index=False)
    memory = fsspec.filesystem("memory")
    place = "memory://by-version"
    memory.pipe(f"{place}/segment-00000.parquet", (mixed / "segment-00000.parquet").read_bytes())
    asked: list[str] = []

    def profile_of(version: str) -> ReferenceProfile | None:
        asked.append(version)
        return profiles.get(version)

    def overview(where: Any) -> Any:
        return collect(
            where,
            profiles["2"],
            period="1D",
            model_version="2",
            profile_of=profile_of,
            progress=False,
        )

    try:
        seen = [overview(mixed), overview(apart), overview(place)]
    finally:
        memory.rm(place, recursive=True)
    assert asked == ["1", "2"] * 3  # once per version and pass
    assert _by_version(seen[0]) == _by_version(seen[1]) == _by_version(seen[2])
    days = seen[0].drift_by_period()
    assert [d.metadata["model_version"] for d in days] == ["1"] * 5 + ["2"] * 5
    assert days[5].metadata["answered"] == {"1": 400, "2": 400}
    # each day near its own version's reference (a Wasserstein distance in standard
    # deviations of it; the bound is 0.1) ...
    assert max(d.column("x").statistic for d in days) < 0.15
    seen[0].by_version = False  # ... where against version 2's profile v1's days are 3 off
    assert [round(d.column("x").statistic) for d in seen[0].drift_by_period()][:5] == [3] * 5


def test_a_log_one_version_answered_is_drawn_as_before(tmp_path: Path) -> None:
    """Every row answered by the champion: by version or not, the same verdicts, the
    same figure title and table, no version marks."""
    from workbench.monitoring import (
        ReferenceProfile,
        collect,
        drift_over_time_figure,
        drift_table_figure,
    )

    rng = np.random.default_rng(5)
    profile = ReferenceProfile.from_frame(
        pd.DataFrame({"x": rng.normal(0, 1, 3000), "kind": rng.choice(["a", "b"], 3000)})
    )
    (tmp_path / "log").mkdir()
    _two_versions(range(0, 8), "3", 0.0, 6).to_parquet(tmp_path / "log" / "segment-0.parquet")
    plain = collect(tmp_path / "log", profile, period="1D", model_version="3", progress=False)
    mine = collect(
        tmp_path / "log",
        profile,
        period="1D",
        model_version="3",
        profile_of={"3": profile}.get,
        progress=False,
    )
    assert mine.per_version and not plain.per_version
    before, after = plain.drift_in_steps(), mine.drift_in_steps()
    assert before[0] == after[0]
    for old, new in zip(before[1], after[1], strict=True):
        assert [c.statistic for c in old.columns] == [c.statistic for c in new.columns]
        assert new.metadata["compared_with"] == "version 3's reference"
    figures = [drift_over_time_figure(s, t, unit="day") for t, s in (before, after)]
    assert figures[0].layout.title.text == figures[1].layout.title.text
    assert not figures[1].layout.annotations and not figures[1].layout.shapes
    tables = [drift_table_figure(o.drift()).layout.title.text for o in (plain, mine)]
    assert tables[0] == tables[1]
