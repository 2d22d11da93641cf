"""``compare_shadow`` (issue 27): champion and shadow challenger scored on the same
requests and actuals, from the logs of a real server run with ``--shadow``."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn import metrics as skm

from workbench._exceptions import MonitoringError
from workbench.monitoring import compare_shadow, shadow_holdout
from workbench.serving import ScoringServer, read_inference_log

from ..serving.conftest import own_settings, tiny_project  # noqa: F401 (a fixture)
from ..serving.test_shadow import _challenger

pytestmark = pytest.mark.slow


def _body(x: float) -> dict[str, object]:
    return {"dataframe_split": {"columns": ["x", "region"], "data": [[x, "a"], [x + 0.5, "b"]]}}


def test_compare_shadow_scores_both_versions_on_the_same_rows_as_scikit_learn(
    tiny_project: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    challenger = _challenger(tiny_project)  # a constant 2.0; the champion a constant 1.0
    log_dir = tmp_path / "log"
    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=log_dir,
        project_dir=tiny_project,
        args=["--shadow", "challenger"],
    )
    with own_settings():
        server.start()
    truth: dict[tuple[str, int], float] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            ids = [
                client.post("/invocations", json=_body(float(i))).headers["X-Request-ID"]
                for i in range(30)
            ]
            for i, rid in enumerate(ids[:20]):  # the last ten have no actual yet
                truth[(rid, 0)], truth[(rid, 1)] = 0.5 * i, 0.5 * i + 4.0
            items = [{"request_id": r, "row": n, "actual": a} for (r, n), a in truth.items()]
            assert client.post("/actuals", json={"actuals": items}).status_code == 200
    finally:
        server.stop()
    with pytest.raises(MonitoringError, match="No shadow log"):
        compare_shadow(tmp_path / "elsewhere")

    compared = compare_shadow(log_dir)

    assert list(compared["role"]) == ["champion", "challenger"]
    assert list(compared["version"]) == ["1", challenger]
    assert list(compared["requests"]) == [20, 20] and list(compared["rows"]) == [40, 40]
    y = np.array(list(truth.values()))
    for (_, row), logged in zip(
        compared.iterrows(),
        [read_inference_log(log_dir), read_inference_log(log_dir / "shadow")],
        strict=True,
    ):  # the hand computation: each version's own logged predictions against the truth
        by_key = logged.set_index(["request_id", "row_in_request"])["prediction"]
        p = np.array([by_key[key] for key in truth])
        assert row["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
        assert row["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
        assert row["r2"] == pytest.approx(skm.r2_score(y, p))
        nonzero = y != 0
        assert row["mape"] == pytest.approx(
            skm.mean_absolute_percentage_error(y[nonzero], p[nonzero])
        )
    assert compared.loc[0, "mae"] != compared.loc[1, "mae"]  # 1.0 vs 2.0 against the truth

    with own_settings():  # the dashboard shows it in a tab of its own
        from workbench import resolve_settings
        from workbench.monitoring import open_dashboard

        view = open_dashboard(
            "tiny", log_dir=log_dir, settings=resolve_settings(tiny_project), progress=False
        )
    titles = [view.tabs.get_title(i) for i in range(len(view.tabs.children))]
    assert "Challenger" in titles
    shown = view.comparison.value
    mae = compared.set_index("role")["mae"]
    assert (
        f"challenger v{challenger} vs champion v1</b> on the same 20 requests (40 rows with "
        f"actuals): MAE <b>{mae['challenger']:,.4g}</b> vs {mae['champion']:,.4g}"
    ) in shown
    better = "challenger" if mae["challenger"] < mae["champion"] else "champion"
    assert f"({better} better)" in shown

    # promotion compares the same rows: the logged inputs, the actual as the target
    holdout = shadow_holdout(log_dir, target="y")
    assert len(holdout) == 40 and {"x", "region", "y"} <= set(holdout.columns)
    assert not {"request_id", "prediction", "model_version_champion"} & set(holdout.columns)
    assert sorted(holdout["y"]) == sorted(truth.values())
    sent = {(float(i), "a") for i in range(20)} | {(i + 0.5, "b") for i in range(20)}
    assert set(zip(holdout["x"], holdout["region"], strict=True)) == sent
