"""A canary (issue 27): ``workbench serve models:/tiny@champion --canary challenger
--canary-share 0.3`` lets the challenger answer that share of the requests, chosen by the
caller's ``X-Request-ID`` (a retry lands on the same version); ``X-Model-Version`` says
which version answered, and the log records each request once under it."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from workbench._exceptions import ServingError
from workbench._settings import get_settings
from workbench.serving import ScoringServer, read_inference_log
from workbench.serving._model import ServedModel, canary_point

from .conftest import own_settings
from .test_shadow import ONE_ROW, _challenger


@pytest.mark.slow
def test_the_canary_answers_its_share_and_each_answer_is_logged_once_under_its_version(
    tiny_project: Path, tmp_path: Path
) -> None:
    challenger = _challenger(tiny_project)
    log_dir = tmp_path / "log"
    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=log_dir,
        project_dir=tiny_project,
        args=["--canary", "challenger", "--canary-share", "0.3"],
    )
    with own_settings():
        server.start()
    keys = [f"order-{i}" for i in range(200)]
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = {
                k: client.post("/invocations", json=ONE_ROW, headers={"X-Request-ID": k})
                for k in keys
            }
            retried = client.post("/invocations", json=ONE_ROW, headers={"X-Request-ID": keys[7]})
            health = client.get("/health").json()
    finally:
        server.stop()
    assert all(a.status_code == 200 for a in answers.values())
    assert health["canary_version"] == challenger and health["canary_share"] == 0.3
    by_version = {k: a.headers["X-Model-Version"] for k, a in answers.items()}
    canaried = {k for k, v in by_version.items() if v == challenger}
    assert set(by_version.values()) == {"1", challenger}
    assert 0.15 * 200 <= len(canaried) <= 0.45 * 200, len(canaried)
    assert canaried == {k for k in keys if canary_point(k) < 0.3}  # chosen by the key
    for k, a in answers.items():  # each answer is the version's own (1.0 or 2.0)
        assert a.json()["predictions"] == [2.0 if k in canaried else 1.0]
    assert retried.headers["X-Model-Version"] == by_version[keys[7]]

    log = read_inference_log(log_dir)
    logged_id = {a.headers["X-Request-ID"]: by_version[k] for k, a in answers.items()}
    logged_id[retried.headers["X-Request-ID"]] = retried.headers["X-Model-Version"]
    assert len(log) == len(logged_id) == 201  # each request once, under its own id
    assert dict(zip(log["request_id"], log["model_version"], strict=True)) == logged_id
    assert not (log_dir / "shadow").exists()
    banner = f"canary          @challenger (version {challenger}) answers 30 % of requests"
    assert banner in server.output()


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5, -0.1, math.nan])
def test_a_share_outside_zero_to_one_is_refused(share: float, tmp_path: Path) -> None:
    with pytest.raises(ServingError, match=r"--canary-share must be strictly between 0 and 1"):
        ServedModel(
            "models:/tiny@champion",
            log_dir=str(tmp_path),
            settings=get_settings(),
            canary="challenger",
            canary_share=share,
        )


def test_a_canary_and_a_shadow_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ServingError, match=r"--canary @b and --shadow @a together"):
        ServedModel(
            "models:/tiny@champion",
            log_dir=str(tmp_path),
            settings=get_settings(),
            shadow="a",
            canary="b",
        )
    with pytest.raises(ServingError, match="serve it by its alias"):
        ServedModel("models:/tiny/1", log_dir=str(tmp_path), settings=get_settings(), canary="b")


def test_a_share_without_a_canary_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench._cli import main

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # the command sets them; restored after
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    argv = ["serve", "models:/tiny@champion", "--canary-share", "0.2"]
    assert main([*argv, "--project-dir", str(tmp_path)]) == 2
    assert "--canary-share 0.2 without --canary ALIAS" in capsys.readouterr().err


def test_canary_points_spread_evenly_and_stay_put() -> None:
    points = [canary_point(f"k{i}") for i in range(10_000)]
    assert all(0.0 <= p < 1.0 for p in points)
    assert abs(sum(p < 0.1 for p in points) / 10_000 - 0.1) < 0.02
    assert canary_point("k42") == points[42]


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--canary", "--shadow"])
def test_a_challenger_alias_that_is_not_set_is_refused_before_serving(
    flag: str,
    tiny_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench._cli import main

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # the command sets them; restored after
    argv = ["serve", "models:/tiny@champion", flag, "nosuch", "--port", "1"]
    with own_settings():
        assert main([*argv, "--project-dir", str(tiny_project)]) != 0
    err = capsys.readouterr().err
    assert "Cannot serve models:/tiny@nosuch" in err and "'champion'" in err, err
